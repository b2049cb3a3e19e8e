//! The Lambda adapter: an API Gateway HTTP API (v2) event in, its response out, over the
//! same [`handle_http`] as the local server.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use lambda_runtime::LambdaEvent;

use crate::http::{handle_http, HttpReply, RawBody, SkillEndpoint, JSON_CONTENT_TYPE};
use crate::stores::ChatPorts;
use axum::http::StatusCode;

/// Answers one API Gateway event. Errors are answers too (401, 400, …), so this never
/// fails the invocation.
pub async fn handle_apigw<S: ChatPorts>(
    endpoint: &SkillEndpoint<S>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, lambda_runtime::Error> {
    let request = event.payload;
    let text = request.body.unwrap_or_default();
    let reply = if request.is_base64_encoded {
        match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
            Ok(bytes) => handle_http(endpoint, &request.headers, RawBody::Complete(&bytes)).await,
            Err(_) => bad_base64(endpoint, &request.headers).await,
        }
    } else {
        handle_http(endpoint, &request.headers, RawBody::Complete(text.as_bytes())).await
    };
    Ok(to_response(reply))
}

/// A body API Gateway marked as base64 but that is not: checked for the secret first, like
/// every request, then rejected as malformed.
async fn bad_base64<S: ChatPorts>(endpoint: &SkillEndpoint<S>, headers: &HeaderMap) -> HttpReply {
    let reply = handle_http(endpoint, headers, RawBody::Complete(b"")).await;
    if reply.status == StatusCode::UNAUTHORIZED {
        return reply;
    }
    let body = serde_json::json!({"error": "invalid_request", "reason": "the body is not valid base64"});
    HttpReply { status: StatusCode::BAD_REQUEST, body: body.to_string().into() }
}

fn to_response(reply: HttpReply) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(reply.status.as_u16());
    response.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    response.body = Some(Body::Text(String::from_utf8_lossy(&reply.body).into_owned()));
    response
}
