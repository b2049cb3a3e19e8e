//! AWS SDK errors (any service: every `aws-sdk-*` crate shares one `SdkError`) in the
//! handlers' terms.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::BackendError;

/// AWS error codes that mean "slow down or try again": throttling and server-side faults.
const AWS_TRANSIENT_CODES: [&str; 7] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Translates an AWS SDK failure: no response or a throttling/server fault is
/// `Unavailable`, a service's refusal is `Rejected` with its code and message.
pub fn from_sdk<E, R>(err: SdkError<E, R>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    let kind = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            BackendError::unavailable(detail)
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if AWS_TRANSIENT_CODES.contains(&code) {
                BackendError::unavailable(detail)
            } else {
                BackendError::rejected(detail)
            }
        }
        _ => BackendError::rejected(detail),
    };
    kind.caused_by(err)
}

/// A failed AWS call, translated by [`from_sdk`] and named by `operation`.
pub fn aws_call<E, R>(operation: &str, err: SdkError<E, R>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    from_sdk(err).context(operation)
}
