variable "region" {
  description = "AWS region of the bucket and the cluster (the Ray nodes and pods set AWS_REGION to it)."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Name of the S3 bucket that holds the briefs and the store (globally unique, e.g. acme-music)."
  type        = string
}

variable "store_prefix" {
  description = "Key prefix of the cues store inside the bucket: --store s3://<bucket>/<store_prefix>. Read and write."
  type        = string
  default     = "cues"
}

variable "briefs_prefix" {
  description = "Key prefix of the brief files the cluster reads (cues submit s3://<bucket>/<briefs_prefix>/). Read only."
  type        = string
  default     = "briefs"
}

variable "sse_algorithm" {
  description = "Default encryption: aws:kms (a customer managed key made here, with an S3 Bucket Key) or AES256 (SSE-S3)."
  type        = string
  default     = "aws:kms"

  validation {
    condition     = contains(["aws:kms", "AES256"], var.sse_algorithm)
    error_message = "sse_algorithm must be aws:kms or AES256."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which parts of an unfinished multipart upload (a worker killed mid-upload) are deleted."
  type        = number
  default     = 2
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object's old version is kept (versioning is on) before it expires."
  type        = number
  default     = 30
}

variable "audio_tiering_days" {
  description = "Days after which the store's cue files over 128 KiB (audio, previews, piano rolls) move to Intelligent-Tiering."
  type        = number
  default     = 30
}

variable "name_prefix" {
  description = "Prefix of the IAM roles and instance profiles; infra/aws/cluster.yaml names the profiles <name_prefix>-ray-head and <name_prefix>-ray-worker."
  type        = string
  default     = "cues"
}

variable "ray_cluster_name" {
  description = "cluster_name in infra/aws/cluster.yaml: the head node may only tag and terminate instances carrying it."
  type        = string
  default     = "cues"
}

variable "eks_oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider, for the pods' role (IRSA); empty: no pod role is made."
  type        = string
  default     = ""
}

variable "eks_oidc_issuer" {
  description = "The EKS cluster's OIDC issuer without https:// (oidc.eks.<region>.amazonaws.com/id/<id>); with eks_oidc_provider_arn."
  type        = string
  default     = ""
}

variable "k8s_namespace" {
  description = "Kubernetes namespace of the cues pods (infra/k8s/serviceaccount.yaml)."
  type        = string
  default     = "cues"
}

variable "k8s_service_account" {
  description = "Kubernetes service account of the cues pods (infra/k8s/serviceaccount.yaml)."
  type        = string
  default     = "cues"
}
