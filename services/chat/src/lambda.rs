//! The Lambda adapter: an API Gateway HTTP API (v2) event in, its response out, over the
//! same [`handle_http`] as the local server.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use axum::http::{header, HeaderValue};
use base64::Engine;
use lambda_runtime::LambdaEvent;

use crate::http::{
    check_secret, handle_http, HttpReply, RawBody, SkillEndpoint, JSON_CONTENT_TYPE,
};

/// Answers one API Gateway event. Rejections are answers too (401, 400, …), so this never
/// fails the invocation.
pub async fn handle_apigw(
    endpoint: &SkillEndpoint,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, lambda_runtime::Error> {
    let request = event.payload;
    let text = request.body.unwrap_or_default();
    let reply = if request.is_base64_encoded {
        match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
            Ok(bytes) => handle_http(endpoint, &request.headers, RawBody::Complete(&bytes)).await,
            Err(_) => check_secret(&endpoint.guard, &request.headers)
                .unwrap_or_else(|| HttpReply::bad_request("the body is not valid base64")),
        }
    } else {
        handle_http(
            endpoint,
            &request.headers,
            RawBody::Complete(text.as_bytes()),
        )
        .await
    };
    Ok(to_response(reply))
}

fn to_response(reply: HttpReply) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(reply.status.as_u16());
    response.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response.body = Some(Body::Text(
        String::from_utf8_lossy(&reply.body).into_owned(),
    ));
    response
}
