# Who may do what: the Ray nodes (cluster launcher, EC2 instance profiles) and the cues pods on EKS (IRSA).
# Every role gets the same least-privilege access to the bucket: read the briefs prefix, read and write the store
# prefix; nothing else in S3. The head node also gets what Ray's autoscaler needs to start and stop its workers
# (instead of the AmazonEC2FullAccess and AmazonS3FullAccess roles that `ray up` would make by default).

data "aws_partition" "current" {}

locals {
  bucket_arn = aws_s3_bucket.store.arn
  # The prefix itself and everything under it: the exact key matters to clients that probe a "directory" with
  # HEAD <prefix> before listing it (pyarrow, used by Ray Train's checkpoints).
  store_objects  = ["${local.bucket_arn}/${var.store_prefix}", "${local.bucket_arn}/${var.store_prefix}/*"]
  briefs_objects = ["${local.bucket_arn}/${var.briefs_prefix}", "${local.bucket_arn}/${var.briefs_prefix}/*"]
}

data "aws_iam_policy_document" "store_access" {
  statement {
    sid       = "ListTheStoreAndTheBriefs"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        var.store_prefix,
        "${var.store_prefix}/*",
        var.briefs_prefix,
        "${var.briefs_prefix}/*",
      ]
    }
  }

  statement {
    sid       = "FindTheBucketRegion"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  # Deletes: a scheduler removes its claim when it finishes, a re-run removes a batch's _SUCCESS before writing the
  # batch again, and Ray Train replaces its checkpoints. Multipart: files over 16 MiB (long stems) go up in parts.
  statement {
    sid = "ReadAndWriteTheStore"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = local.store_objects
  }

  statement {
    sid       = "ReadTheBriefs"
    actions   = ["s3:GetObject"]
    resources = local.briefs_objects
  }

  dynamic "statement" {
    for_each = local.use_kms ? [aws_kms_key.store[0].arn] : []

    content {
      sid       = "UseTheBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "store_access" {
  name        = "${var.name_prefix}-store-access"
  description = "Read s3://${var.bucket_name}/${var.briefs_prefix}/, read and write s3://${var.bucket_name}/${var.store_prefix}/"
  policy      = data.aws_iam_policy_document.store_access.json
}

# --- Ray cluster launcher (infra/aws/cluster.yaml): one role for the head, one for the workers ---------------------

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ray_head" {
  name               = "${var.name_prefix}-ray-head"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role" "ray_worker" {
  name               = "${var.name_prefix}-ray-worker"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy_attachment" "ray_head_store" {
  role       = aws_iam_role.ray_head.name
  policy_arn = aws_iam_policy.store_access.arn
}

resource "aws_iam_role_policy_attachment" "ray_worker_store" {
  role       = aws_iam_role.ray_worker.name
  policy_arn = aws_iam_policy.store_access.arn
}

# What Ray's autoscaler on the head calls (ray/autoscaler/_private/aws/node_provider.py): describe, launch with
# tags, re-tag and terminate its own workers, and hand them the worker role. The AMIs are resolved from AWS's
# public SSM parameters at launch (ImageId: resolve:ssm:...).
data "aws_iam_policy_document" "ray_autoscaler" {
  statement {
    sid = "Describe"
    actions = [
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
      "ec2:DescribeKeyPairs",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "LaunchWorkers"
    actions   = ["ec2:RunInstances"]
    resources = ["*"]
  }

  statement {
    sid       = "TagAtLaunch"
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${data.aws_partition.current.partition}:ec2:*:*:instance/*", "arn:${data.aws_partition.current.partition}:ec2:*:*:volume/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["RunInstances"]
    }
  }

  statement {
    sid       = "ManageOwnNodes"
    actions   = ["ec2:CreateTags", "ec2:TerminateInstances"]
    resources = ["arn:${data.aws_partition.current.partition}:ec2:*:*:instance/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/ray-cluster-name"
      values   = [var.ray_cluster_name]
    }
  }

  statement {
    sid       = "PassTheWorkerRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.ray_worker.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ec2.amazonaws.com"]
    }
  }

  statement {
    sid       = "ResolvePublicAmiParameters"
    actions   = ["ssm:GetParameters"]
    resources = ["arn:${data.aws_partition.current.partition}:ssm:*::parameter/aws/service/*"]
  }
}

resource "aws_iam_role_policy" "ray_autoscaler" {
  name   = "ray-autoscaler"
  role   = aws_iam_role.ray_head.id
  policy = data.aws_iam_policy_document.ray_autoscaler.json
}

resource "aws_iam_instance_profile" "ray_head" {
  name = "${var.name_prefix}-ray-head"
  role = aws_iam_role.ray_head.name
}

resource "aws_iam_instance_profile" "ray_worker" {
  name = "${var.name_prefix}-ray-worker"
  role = aws_iam_role.ray_worker.name
}

# --- EKS + KubeRay (infra/k8s/): the pods' role through IRSA ----------------------------------------------------

data "aws_iam_policy_document" "eks_pods_assume" {
  count = var.eks_oidc_provider_arn == "" ? 0 : 1

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.eks_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.eks_oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.k8s_namespace}:${var.k8s_service_account}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.eks_oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "eks_pods" {
  count              = var.eks_oidc_provider_arn == "" ? 0 : 1
  name               = "${var.name_prefix}-eks-pods"
  assume_role_policy = data.aws_iam_policy_document.eks_pods_assume[0].json
}

resource "aws_iam_role_policy_attachment" "eks_pods_store" {
  count      = var.eks_oidc_provider_arn == "" ? 0 : 1
  role       = aws_iam_role.eks_pods[0].name
  policy_arn = aws_iam_policy.store_access.arn
}
