//! Host secrets at rest: sealed with AES-256-GCM under a data key that only the stack's KMS
//! key can open (envelope encryption), so the table alone hands out no usable secret.
//!
//! A sealed host item holds `secret_sealed` (version, nonce, ciphertext and tag, with the
//! item key `host#<hostname>` as associated data, so a sealed secret copied into another
//! host's item does not open) and `secret_key` (the data key as KMS encrypted it, for the
//! table's encryption context). The function asks KMS to decrypt that data key once per
//! instance and keeps it; the admin CLI creates the data key on its first sealed write and
//! keeps the master copy in the item `dyn53#data-key`. Items without `secret_sealed` (written
//! before sealing, or with `DYN53_KMS_KEY` unset) keep working; `host seal` seals them.

use crate::aws_error;
use crate::aws_json::AwsJson;
use crate::dynamo::Dynamo;
use crate::random;
use crate::store::StoreError;
use crate::table::{host_pk, DATA_KEY_PK, HOST_PREFIX, PK};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Host item attribute holding the sealed secret.
pub const SEALED: &str = "secret_sealed";
/// Host item attribute holding the encrypted data key that opens [`SEALED`].
pub const SEALED_KEY: &str = "secret_key";
/// Host item attribute of a plaintext secret (items written without sealing).
pub const PLAIN: &str = "secret";
/// Encryption context key: KMS opens a data key only for the table it was made for, and
/// the key policy lets no one use the key without it.
pub const CONTEXT_KEY: &str = "dyn53-table";
/// Format version, the first byte of a sealed secret.
const VERSION: u8 = 1;

type Item = HashMap<String, AttributeValue>;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// KMS, the table or the random source failed (worth retrying).
    Unavailable(String),
    /// The item cannot be opened: another host's secret, another key, or damaged.
    Unusable(String),
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Unavailable(d) | SealError::Unusable(d) => f.write_str(d),
        }
    }
}

impl From<SealError> for StoreError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Unavailable(d) => StoreError::Unavailable(d),
            SealError::Unusable(d) => StoreError::BadItem(d),
        }
    }
}

/// The associated data of a host's sealed secret: its item key.
fn aad(hostname: &str) -> Vec<u8> {
    host_pk(hostname).into_bytes()
}

/// A 256-bit data key, ready to seal and open host secrets.
pub struct DataKey(LessSafeKey);

// Hand-written so the key never reaches a log.
impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// The key from its 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<DataKey, SealError> {
        UnboundKey::new(&AES_256_GCM, bytes)
            .map(|k| DataKey(LessSafeKey::new(k)))
            .map_err(|_| SealError::Unusable("the data key is not 32 bytes".into()))
    }

    /// `secret` sealed for `hostname`: version, random nonce, ciphertext and tag.
    pub fn seal(&self, hostname: &str, secret: &str) -> Result<Vec<u8>, SealError> {
        let nonce =
            random::bytes::<NONCE_LEN>().map_err(|e| SealError::Unavailable(e.to_string()))?;
        let mut body = secret.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(hostname)),
                &mut body,
            )
            .map_err(|_| SealError::Unusable("the secret is too long to seal".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The secret in `sealed`, if it was sealed for `hostname` under this key.
    pub fn open(&self, hostname: &str, sealed: &[u8]) -> Result<String, SealError> {
        let refused = || {
            SealError::Unusable(format!(
                "the sealed secret of {hostname} does not open (sealed for another host, under \
                 another key, or damaged)"
            ))
        };
        let rest = match sealed.split_first() {
            Some((&VERSION, rest)) => rest,
            _ => return Err(refused()),
        };
        if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(refused());
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut buf = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad(hostname)), &mut buf)
            .map_err(|_| refused())?;
        String::from_utf8(plain.to_vec()).map_err(|_| refused())
    }
}

/// Sealing for one table: the KMS key and the data keys opened so far (one per instance in
/// practice; a map so a rotated data key opens too).
#[derive(Clone)]
pub struct Sealing {
    kms: AwsJson,
    key_id: String,
    opened: Arc<tokio::sync::Mutex<HashMap<Vec<u8>, Arc<DataKey>>>>,
}

impl fmt::Debug for Sealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealing")
            .field("key_id", &self.key_id)
            .finish()
    }
}

fn context(table: &str) -> Value {
    json!({ CONTEXT_KEY: table })
}

/// The bytes of a base64 blob field in a KMS answer (JSON 1.1 sends blobs as base64).
fn answer_blob(answer: &Value, field: &str) -> Option<Vec<u8>> {
    BASE64.decode(answer[field].as_str()?).ok()
}

fn blob(item: &Item, name: &str) -> Option<Vec<u8>> {
    match item.get(name) {
        Some(AttributeValue::B(b)) => Some(b.as_ref().to_vec()),
        _ => None,
    }
}

impl Sealing {
    /// Sealing with the KMS key `key_id` (ARN, id or alias).
    pub fn new(kms: AwsJson, key_id: &str) -> Sealing {
        Sealing {
            kms,
            key_id: key_id.to_string(),
            opened: Arc::default(),
        }
    }

    /// The data key `encrypted` by KMS for `table`: decrypted on first use, then kept.
    pub async fn open_data_key(
        &self,
        table: &str,
        encrypted: &[u8],
    ) -> Result<Arc<DataKey>, SealError> {
        // Held across the KMS call, so concurrent first requests make one Decrypt.
        let mut opened = self.opened.lock().await;
        if let Some(k) = opened.get(encrypted) {
            return Ok(k.clone());
        }
        let input = json!({
            "KeyId": self.key_id,
            "CiphertextBlob": BASE64.encode(encrypted),
            "EncryptionContext": context(table),
        });
        let out =
            self.kms.call("Decrypt", &input).await.map_err(|e| {
                SealError::Unavailable(format!("KMS cannot decrypt the data key: {e}"))
            })?;
        let plain = answer_blob(&out, "Plaintext")
            .ok_or_else(|| SealError::Unavailable("KMS Decrypt answered no plaintext".into()))?;
        let key = Arc::new(DataKey::new(&plain)?);
        opened.insert(encrypted.to_vec(), key.clone());
        Ok(key)
    }

    /// The table's data key (encrypted, opened), made by KMS and stored in [`DATA_KEY_PK`]
    /// on first use (the admin CLI; the function never creates one).
    pub async fn table_data_key(
        &self,
        table: &Dynamo,
    ) -> Result<(Vec<u8>, Arc<DataKey>), SealError> {
        let stored = |item: Option<Item>| item.as_ref().and_then(|i| blob(i, "blob"));
        if let Some(enc) = stored(get(table, DATA_KEY_PK).await?) {
            let key = self.open_data_key(table.table(), &enc).await?;
            return Ok((enc, key));
        }
        let input = json!({
            "KeyId": self.key_id,
            "KeySpec": "AES_256",
            "EncryptionContext": context(table.table()),
        });
        let made = self
            .kms
            .call("GenerateDataKey", &input)
            .await
            .map_err(|e| {
                SealError::Unavailable(format!(
                    "KMS cannot make a data key with {}: {e}",
                    self.key_id
                ))
            })?;
        let enc = answer_blob(&made, "CiphertextBlob")
            .ok_or_else(|| SealError::Unavailable("GenerateDataKey answered no key".into()))?;
        let put = table
            .client()
            .put_item()
            .table_name(table.table())
            .item(PK, AttributeValue::S(DATA_KEY_PK.into()))
            .item("blob", AttributeValue::B(Blob::new(enc.clone())))
            .item("kms_key", AttributeValue::S(self.key_id.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => {
                let key = self.open_data_key(table.table(), &enc).await?;
                Ok((enc, key))
            }
            // Another admin made it first: use theirs.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let enc = stored(get(table, DATA_KEY_PK).await?)
                    .ok_or_else(|| SealError::Unavailable("the data key item vanished".into()))?;
                let key = self.open_data_key(table.table(), &enc).await?;
                Ok((enc, key))
            }
            Err(e) => Err(SealError::Unavailable(aws_error::detail(&e))),
        }
    }
}

async fn get(table: &Dynamo, pk: &str) -> Result<Option<Item>, SealError> {
    table
        .client()
        .get_item()
        .table_name(table.table())
        .key(PK, AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .map(|o| o.item)
        .map_err(|e| SealError::Unavailable(aws_error::detail(&e)))
}

/// The attributes that store `secret` for `hostname`: sealed when `sealing` is on, else
/// the plaintext attribute.
pub async fn secret_attributes(
    table: &Dynamo,
    hostname: &str,
    secret: &str,
) -> Result<Vec<(&'static str, AttributeValue)>, SealError> {
    let Some(sealing) = table.sealing() else {
        return Ok(vec![(PLAIN, AttributeValue::S(secret.to_string()))]);
    };
    let (enc, key) = sealing.table_data_key(table).await?;
    Ok(vec![
        (
            SEALED,
            AttributeValue::B(Blob::new(key.seal(hostname, secret)?)),
        ),
        (SEALED_KEY, AttributeValue::B(Blob::new(enc))),
    ])
}

/// Replaces the plaintext secret of a host item written by `host_to_item` with its sealed
/// form, when `table` seals.
pub async fn seal_item(table: &Dynamo, hostname: &str, item: &mut Item) -> Result<(), SealError> {
    if table.sealing().is_none() {
        return Ok(());
    }
    let Some(AttributeValue::S(secret)) = item.remove(PLAIN) else {
        return Ok(());
    };
    for (name, value) in secret_attributes(table, hostname, &secret).await? {
        item.insert(name.to_string(), value);
    }
    Ok(())
}

/// Opens a sealed host item in place (its secret becomes the plaintext attribute, in
/// memory only); plaintext items are left as they are.
pub async fn open_item(
    sealing: Option<&Sealing>,
    table: &str,
    hostname: &str,
    item: &mut Item,
) -> Result<(), SealError> {
    let Some(sealed) = blob(item, SEALED) else {
        return Ok(());
    };
    let Some(sealing) = sealing else {
        return Err(SealError::Unusable(format!(
            "the secret of {hostname} is sealed, but DYN53_KMS_KEY is not set"
        )));
    };
    let enc = blob(item, SEALED_KEY)
        .ok_or_else(|| SealError::Unusable(format!("{hostname}: {SEALED} without {SEALED_KEY}")))?;
    let key = sealing.open_data_key(table, &enc).await?;
    let secret = key.open(hostname, &sealed)?;
    item.insert(PLAIN.to_string(), AttributeValue::S(secret));
    Ok(())
}

/// Host items whose secret is stored in plaintext (written before sealing or without
/// `DYN53_KMS_KEY`): hostname and secret.
async fn plaintext_hosts(table: &Dynamo) -> Result<Vec<(String, String)>, SealError> {
    let mut found = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = table
            .client()
            .scan()
            .table_name(table.table())
            .filter_expression("begins_with(#pk, :p) AND attribute_exists(#sec)")
            .projection_expression("#pk, #sec")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sec", PLAIN)
            .expression_attribute_values(":p", AttributeValue::S(HOST_PREFIX.into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| SealError::Unavailable(aws_error::detail(&e)))?;
        for item in out.items() {
            let host = match item.get(PK) {
                Some(AttributeValue::S(pk)) => pk.strip_prefix(HOST_PREFIX),
                _ => None,
            };
            if let (Some(host), Some(AttributeValue::S(secret))) = (host, item.get(PLAIN)) {
                found.push((host.to_string(), secret.clone()));
            }
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    found.sort();
    Ok(found)
}

/// `host seal`: the hosts whose secret is in plaintext, each sealed unless `dry_run`.
/// Each write is conditional on the plaintext it read, so a concurrent `host rotate` wins.
pub async fn seal_plaintext_hosts(table: &Dynamo, dry_run: bool) -> Result<Vec<String>, SealError> {
    let hosts = plaintext_hosts(table).await?;
    if dry_run || hosts.is_empty() {
        return Ok(hosts.into_iter().map(|(h, _)| h).collect());
    }
    if table.sealing().is_none() {
        return Err(SealError::Unusable(
            "DYN53_KMS_KEY is not set (the stack's SecretsKeyArn output): nothing to seal with"
                .into(),
        ));
    }
    let mut sealed = Vec::new();
    for (host, secret) in hosts {
        let attrs = secret_attributes(table, &host, &secret).await?;
        let mut update = table
            .client()
            .update_item()
            .table_name(table.table())
            .key(PK, AttributeValue::S(host_pk(&host)))
            .update_expression("SET #a0 = :v0, #a1 = :v1 REMOVE #sec")
            .condition_expression("#sec = :old")
            .expression_attribute_names("#sec", PLAIN)
            .expression_attribute_values(":old", AttributeValue::S(secret));
        for (i, (name, value)) in attrs.into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        match update.send().await {
            Ok(_) => sealed.push(host),
            // Rotated or removed meanwhile: its new secret was written sealed, or it is gone.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(SealError::Unavailable(aws_error::detail(&e))),
        }
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> DataKey {
        DataKey::new(&[b; 32]).unwrap()
    }

    #[test]
    fn seals_and_opens_for_the_same_host_only() {
        let k = key(7);
        let sealed = k.seal("home.example.com", "s3cret-value").unwrap();
        assert_eq!(sealed[0], VERSION);
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(k.open("home.example.com", &sealed).unwrap(), "s3cret-value");
        // Moved to another host's item, or opened with another key: refused.
        let moved = k.open("nas.example.com", &sealed).unwrap_err();
        assert!(matches!(moved, SealError::Unusable(_)), "{moved}");
        assert!(key(8).open("home.example.com", &sealed).is_err());
        // Each seal draws a fresh nonce.
        assert_ne!(sealed, k.seal("home.example.com", "s3cret-value").unwrap());
    }

    #[tokio::test]
    async fn kms_opens_a_data_key_once_for_its_table() {
        let plain = BASE64.encode([7; 32]);
        let answer = json!({ "KeyId": "arn:k", "Plaintext": plain });
        let (url, seen) = crate::aws_json::fake::server(vec![(200, answer.to_string())]).await;
        let kms = AwsJson::kms(&crate::aws_json::fake::config(&url));
        let sealing = Sealing::new(kms, "arn:k");
        let sealed = key(7).seal("a.example.com", "s3cret").unwrap();
        for _ in 0..2 {
            let k = sealing.open_data_key("hosts", b"enc").await.unwrap();
            assert_eq!(k.open("a.example.com", &sealed).unwrap(), "s3cret");
        }
        // One Decrypt (the second open was kept), blob in base64, with the table's context.
        assert_eq!(
            *seen.lock().unwrap(),
            vec![format!(
                r#"trentservice.decrypt {{"CiphertextBlob":"{}","EncryptionContext":{{"dyn53-table":"hosts"}},"KeyId":"arn:k"}}"#,
                BASE64.encode(b"enc")
            )]
        );
    }

    #[test]
    fn damaged_or_unknown_formats_are_refused() {
        let k = key(1);
        let mut sealed = k.seal("a.example.com", "x").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(k.open("a.example.com", &sealed).is_err());
        sealed[last] ^= 1;
        sealed[0] = 2;
        assert!(k.open("a.example.com", &sealed).is_err());
        assert!(k.open("a.example.com", &[VERSION; 10]).is_err());
        assert!(k.open("a.example.com", &[]).is_err());
        assert!(DataKey::new(&[0; 16]).is_err());
        assert_eq!(format!("{k:?}"), "DataKey(<redacted>)");
    }
}
