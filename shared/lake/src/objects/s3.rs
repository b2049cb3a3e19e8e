//! The lake in an S3 bucket (aws-sdk-s3). Objects above [`MULTIPART_THRESHOLD`] are
//! uploaded in parts, so large compacted files do not need one long request.

use async_trait::async_trait;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::{validate_key, validate_prefix, Lake, ObjectInfo};
use crate::LakeError;

/// Objects larger than this many bytes go up as a multipart upload; smaller ones in one put.
pub const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
/// Size of each part of a multipart upload but the last (S3's minimum is 5 MiB).
pub const MULTIPART_PART_SIZE: usize = 8 * 1024 * 1024;

/// An S3 client for the lake from the shared SDK configuration: path-style addressing when
/// an endpoint is configured (an emulator's bucket host names resolve nowhere locally).
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let builder = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(encore_platform::aws::has_custom_endpoint(config));
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// The lake in `bucket`, keys at the bucket's root.
#[derive(Debug, Clone)]
pub struct S3Lake {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Lake {
    /// The lake in `bucket`, through `client` (see [`s3_client`]).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put_multipart(&self, key: &str, bytes: Bytes) -> Result<(), LakeError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", key, e))?;
        let upload_id = created.upload_id().ok_or_else(|| LakeError::S3 {
            operation: "CreateMultipartUpload",
            key: key.into(),
            message: "no upload id in the answer".into(),
        })?;
        match self.upload_parts(key, upload_id, bytes).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Parts of an unfinished upload are billed until aborted.
                if let Err(abort) = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .send()
                    .await
                {
                    tracing::warn!(key, error = %DisplayErrorContext(&abort), "aborting a failed multipart upload failed");
                }
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        bytes: Bytes,
    ) -> Result<(), LakeError> {
        let mut parts = Vec::new();
        let mut offset = 0;
        let mut number = 1;
        while offset < bytes.len() {
            let end = (offset + MULTIPART_PART_SIZE).min(bytes.len());
            let uploaded = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(bytes.slice(offset..end)))
                .send()
                .await
                .map_err(|e| s3_error("UploadPart", key, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(uploaded.e_tag().map(str::to_owned))
                    .build(),
            );
            offset = end;
            number += 1;
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", key, e))?;
        Ok(())
    }
}

fn s3_error<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
    key: &str,
    error: E,
) -> LakeError {
    LakeError::S3 {
        operation,
        key: key.into(),
        message: DisplayErrorContext(&error).to_string(),
    }
}

#[async_trait]
impl Lake for S3Lake {
    #[tracing::instrument(skip(self, bytes), fields(bucket = %self.bucket, len = bytes.len()))]
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), LakeError> {
        validate_key(key)?;
        if bytes.len() > MULTIPART_THRESHOLD {
            return self.put_multipart(key, bytes).await;
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", key, e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn get(&self, key: &str) -> Result<Option<Bytes>, LakeError> {
        validate_key(key)?;
        let answer = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(s3_error("GetObject", key, e)),
        };
        let body = answer
            .body
            .collect()
            .await
            .map_err(|e| s3_error("GetObject body", key, e))?;
        Ok(Some(body.into_bytes()))
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, LakeError> {
        validate_prefix(prefix)?;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("ListObjectsV2", prefix, e))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    let size = object
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or(0);
                    found.push(ObjectInfo {
                        key: key.to_owned(),
                        size,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn delete(&self, key: &str) -> Result<(), LakeError> {
        validate_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", key, e))?;
        Ok(())
    }
}
