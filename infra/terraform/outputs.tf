output "bucket" {
  description = "The bucket's name."
  value       = aws_s3_bucket.store.id
}

output "store_uri" {
  description = "The store, for --store or CUES_STORE."
  value       = "s3://${aws_s3_bucket.store.id}/${var.store_prefix}"
}

output "briefs_uri" {
  description = "Where to upload brief files for the cluster to read."
  value       = "s3://${aws_s3_bucket.store.id}/${var.briefs_prefix}/"
}

output "kms_key_arn" {
  description = "The bucket's encryption key (null with AES256)."
  value       = local.use_kms ? aws_kms_key.store[0].arn : null
}

output "ray_head_instance_profile" {
  description = "IamInstanceProfile Name of the head node type in infra/aws/cluster.yaml."
  value       = aws_iam_instance_profile.ray_head.name
}

output "ray_worker_instance_profile" {
  description = "IamInstanceProfile Name of the worker node types in infra/aws/cluster.yaml."
  value       = aws_iam_instance_profile.ray_worker.name
}

output "eks_pod_role_arn" {
  description = "Annotate the cues service account with it (eks.amazonaws.com/role-arn); null without eks_oidc_provider_arn."
  value       = var.eks_oidc_provider_arn == "" ? null : aws_iam_role.eks_pods[0].arn
}
