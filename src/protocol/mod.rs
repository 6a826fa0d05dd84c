//! The dyn53 wire protocol, shared by the router client and the backend.
//!
//! No I/O and no dependencies beyond `sha2` and `hex` (the router client takes SHA-256 from
//! ring, which it links anyway), so the backend can use it with `default-features = false`. docs/PROTOCOL.md is the prose description of this module.

pub mod auth;
pub mod crypto;
pub mod json;
pub mod message;
pub mod names;
pub mod prefix;

pub use auth::{check_nonce, issue_nonce, v1_token, v1_verify, IpMode, NonceError, SignedFields};
pub use message::{
    v1_changed, v1_json, BadRequest, ErrorCode, Form, Outcome, Request, Response, SetV1, SetV2,
    MAX_BODY, V1_AUTH_FAILED, V1_BAD_HASH, V1_UNCHANGED,
};
pub use names::{canonical_ip, is_behind_nat, is_public, normalize_hostname, parse_ip, RecordType};
pub use prefix::{LanPrefix, PrefixError};
