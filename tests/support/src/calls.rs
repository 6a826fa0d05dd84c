//! An SDK interceptor that records every request a client sends, so tests count AWS calls
//! on the clients themselves (any of the DynamoDB, Route 53 and SNS clients).

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use std::sync::{Arc, Mutex};

/// Records each request an SDK client sends: the operation (DynamoDB's target, or the
/// service name) and, for table calls, the key prefixes of the items it touches.
#[derive(Debug, Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    /// The requests recorded since the last take.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "count calls"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request();
        let op = match req.headers().get("x-amz-target") {
            Some(t) => t.rsplit('.').next().unwrap_or(t).to_string(),
            // Route 53 (REST: the path names the call) or SNS (form body).
            None if req.uri().contains("/hostedzone/") => {
                if req.method() == "POST" {
                    "route53:change".to_string()
                } else {
                    "route53:list".to_string()
                }
            }
            None => "sns".to_string(),
        };
        let body = req
            .body()
            .bytes()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        // The key prefixes of the items it touches (host#, state#, ...), names left out.
        let mut prefix = String::new();
        for key in body.split("\"pk\":{\"S\":\"").skip(1) {
            if let Some(p) = key.split('#').next() {
                prefix.push_str(&format!(" {p}#"));
            }
        }
        self.0.lock().unwrap().push(format!("{op}{prefix}"));
        Ok(())
    }
}
