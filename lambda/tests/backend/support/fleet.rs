//! Many hosts at once: registering them in the table, seeding and reading their records.

use crate::common::Stack;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use dyn53_backend::dynamo::host_to_item;
use dyn53_backend::host::HostConfig;
use dyn53_backend::random;
use std::collections::HashMap;

/// One registered host.
#[derive(Debug, Clone)]
pub struct Host {
    /// Hostname.
    pub name: String,
    /// Its secret.
    pub secret: String,
}

/// Registers `n` hosts `r0.<zone>` ... with default settings (BatchWriteItem, 25 a call).
pub async fn add_hosts(s: &Stack, n: usize) -> Vec<Host> {
    let hosts: Vec<Host> = (0..n)
        .map(|i| Host {
            name: s.name(&format!("r{i}")),
            secret: random::secret().unwrap(),
        })
        .collect();
    let db = aws_sdk_dynamodb::Client::new(&s.cfg);
    for chunk in hosts.chunks(25) {
        let mut writes = Vec::new();
        for h in chunk {
            let mut c = HostConfig::new(&h.name, &s.zone_id, h.secret.clone());
            c.zone_name = Some(s.zone.clone());
            let put = PutRequest::builder()
                .set_item(Some(host_to_item(&c)))
                .build()
                .unwrap();
            writes.push(WriteRequest::builder().put_request(put).build());
        }
        let mut pending = HashMap::from([(s.table.clone(), writes)]);
        while !pending.is_empty() {
            let out = db
                .batch_write_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .expect("batch write hosts");
            pending = out.unprocessed_items.unwrap_or_default();
            pending.retain(|_, v| !v.is_empty());
        }
    }
    hosts
}

/// Writes A records directly (state before the test), 400 per change batch.
pub async fn seed_records(s: &Stack, records: &[(String, String)]) {
    let r53 = aws_sdk_route53::Client::new(&s.cfg);
    for chunk in records.chunks(400) {
        let mut batch = ChangeBatch::builder();
        for (name, ip) in chunk {
            let set = ResourceRecordSet::builder()
                .name(format!("{name}."))
                .r#type(RrType::A)
                .ttl(60)
                .resource_records(ResourceRecord::builder().value(ip).build().unwrap())
                .build()
                .unwrap();
            batch = batch.changes(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
                    .unwrap(),
            );
        }
        r53.change_resource_record_sets()
            .hosted_zone_id(&s.zone_id)
            .change_batch(batch.build().unwrap())
            .send()
            .await
            .expect("seed records");
    }
}

/// Every A record of the zone: name (no dot) -> values, read page by page.
pub async fn a_records(s: &Stack) -> HashMap<String, Vec<String>> {
    let r53 = aws_sdk_route53::Client::new(&s.cfg);
    let mut out = HashMap::new();
    let mut next: Option<(String, RrType)> = None;
    loop {
        let mut req = r53
            .list_resource_record_sets()
            .hosted_zone_id(&s.zone_id)
            .max_items(300);
        if let Some((name, t)) = next.take() {
            req = req.start_record_name(name).start_record_type(t);
        }
        let page = req.send().await.expect("list records");
        for set in page.resource_record_sets() {
            if *set.r#type() == RrType::A {
                let values = set
                    .resource_records()
                    .iter()
                    .map(|r| r.value().to_string())
                    .collect();
                out.insert(set.name().trim_end_matches('.').to_string(), values);
            }
        }
        if !page.is_truncated() {
            return out;
        }
        next = Some((
            page.next_record_name().unwrap_or_default().to_string(),
            page.next_record_type().cloned().unwrap_or(RrType::A),
        ));
    }
}

/// The p-th percentile (0..=100) of `v`, in milliseconds.
pub fn percentile_ms(v: &mut [std::time::Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i].as_secs_f64() * 1000.0
}
