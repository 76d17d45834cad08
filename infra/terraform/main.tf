# The S3 bucket of a cues deployment: private, versioned, encrypted, TLS only, with lifecycle rules.
# The cluster's IAM roles are in iam.tf; what to run, in infra/README.md.

locals {
  use_kms = var.sse_algorithm == "aws:kms"
}

resource "aws_kms_key" "store" {
  count                   = local.use_kms ? 1 : 0
  description             = "Default encryption key of the cues bucket ${var.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "store" {
  count         = local.use_kms ? 1 : 0
  name          = "alias/${var.name_prefix}-store"
  target_key_id = aws_kms_key.store[0].key_id
}

resource "aws_s3_bucket" "store" {
  bucket = var.bucket_name
}

# ACLs off: the bucket owner owns every object, and access is decided by IAM and the bucket policy alone.
resource "aws_s3_bucket_ownership_controls" "store" {
  bucket = aws_s3_bucket.store.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "store" {
  bucket                  = aws_s3_bucket.store.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Versioning keeps what a re-run or a mistaken delete replaced; old versions expire (lifecycle below).
resource "aws_s3_bucket_versioning" "store" {
  bucket = aws_s3_bucket.store.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "store" {
  bucket = aws_s3_bucket.store.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.sse_algorithm
      kms_master_key_id = local.use_kms ? aws_kms_key.store[0].arn : null
    }
    # A bucket key cuts the KMS requests (one per object otherwise) that a batch of thousands of files would make.
    bucket_key_enabled = local.use_kms
  }
}

# S3 filters lifecycle rules by prefix, object tag and size only, never by file name: previews (preview.mp3) share
# their folder with the masters and the store does not tag objects, so no rule expires previews alone (the batch
# report plays them). Rules: unfinished multipart uploads are aborted, replaced and deleted versions expire, and the
# cues' larger files move to Intelligent-Tiering (no retrieval fee; objects under 128 KiB, such as manifest.json,
# cue.mid and plan.json, stay in Standard, where Intelligent-Tiering would not tier them anyway).
resource "aws_s3_bucket_lifecycle_configuration" "store" {
  bucket     = aws_s3_bucket.store.id
  depends_on = [aws_s3_bucket_versioning.store]

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  rule {
    id     = "cue-files-to-intelligent-tiering"
    status = "Enabled"

    filter {
      and {
        prefix                   = "${var.store_prefix}/cues/"
        object_size_greater_than = 131072
      }
    }

    transition {
      days          = var.audio_tiering_days
      storage_class = "INTELLIGENT_TIERING"
    }
  }
}

# Refuse plain-HTTP requests to the bucket, whoever makes them.
data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.store.arn, "${aws_s3_bucket.store.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "store" {
  bucket     = aws_s3_bucket.store.id
  policy     = data.aws_iam_policy_document.tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.store]
}
