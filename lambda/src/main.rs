//! `dyn53-backend`: wires the command line to the library (see `cli::usage`).

use dyn53_backend::aws_json::AwsJson;
use dyn53_backend::cli::{self, Command};
use dyn53_backend::settings::{AdminEnv, Settings};
use dyn53_backend::settings_table;
use dyn53_backend::ssm::ChannelStore;
use dyn53_backend::{admin, aws, import, lambda_event, log, notify_admin, serve};
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let args = std::env::args_os().skip(1).collect();
    let cmd = match cli::parse(args, on_lambda, settings_table::env("DYN53_URL")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dyn53-backend: {e}\n(see dyn53-backend --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match cmd {
        // The local service serves many routers at once; the rest do one thing at a time.
        Command::Serve { .. } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    match runtime {
        Ok(rt) => rt.block_on(run(cmd)),
        Err(e) => {
            eprintln!("dyn53-backend: cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(cmd: Command) -> ExitCode {
    match cmd {
        Command::Help => {
            print!("{}", cli::usage());
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("dyn53-backend {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Lambda | Command::Serve { .. } => serve_requests(cmd).await,
        admin_cmd => run_admin(admin_cmd).await,
    }
}

async fn serve_requests(cmd: Command) -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            log::error(&e);
            return ExitCode::from(2);
        }
    };
    let cfg = aws::load_config().await;
    let channels = aws::channels(&cfg, &settings).await;
    let alerts = aws::alerts(&cfg, &settings, channels);
    if alerts.is_none() {
        log::info("no DYN53_TOPIC_ARN and no alert channels: notifications are off");
    }
    let watch = Arc::new(aws::watch(
        &cfg,
        &settings,
        alerts.clone(),
        std::io::stdout(),
    ));
    let backend = Arc::new(aws::backend_with(
        &cfg,
        &settings,
        alerts,
        std::io::stdout(),
    ));
    let per_address = settings.max_per_address;
    match cmd {
        Command::Serve {
            listen,
            proxy_header,
        } => {
            let listener = match tokio::net::TcpListener::bind(listen).await {
                Ok(l) => l,
                Err(e) => {
                    log::error(format!("cannot listen on {listen}: {e}"));
                    return ExitCode::from(1);
                }
            };
            let addr = listener.local_addr().map_or(listen, |a| a);
            log::info(format!("listening on http://{addr}/"));
            // On Lambda an EventBridge schedule runs the check; here a timer does.
            if settings.silent_check_secs > 0 {
                let (watch, every) = (watch.clone(), settings.silent_check_secs);
                tokio::spawn(async move { dyn53_backend::watch::every(&watch, every).await });
            }
            tokio::select! {
                r = serve::serve(backend, listener, proxy_header, per_address) => {
                    if let Err(e) = r { log::error(format!("service stopped: {e}")); return ExitCode::from(1); }
                }
                _ = shutdown() => log::info("stopping"),
            }
            ExitCode::SUCCESS
        }
        _ => match lambda_event::run_with(backend, watch).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                log::error(format!("Lambda runtime stopped: {e}"));
                ExitCode::from(1)
            }
        },
    }
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn run_admin(cmd: Command) -> ExitCode {
    let env = match AdminEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("dyn53-backend: {e}");
            return ExitCode::from(2);
        }
    };
    let table = match env.table() {
        Ok(t) => t,
        // `zone-id` and `notify` need no table.
        Err(_) if matches!(cmd, Command::ZoneId { .. } | Command::Notify(_)) => "",
        Err(e) => {
            eprintln!("dyn53-backend: {e}");
            return ExitCode::from(2);
        }
    };
    let cfg = aws::load_config().await;
    let table = aws::sealed_dynamo(&cfg, table, env.kms_key.as_deref());
    if env.kms_key.is_none()
        && matches!(
            cmd,
            Command::HostAdd(_) | Command::HostRotate { .. } | Command::Import(_)
        )
    {
        eprintln!(
            "dyn53-backend: warning: DYN53_KMS_KEY is not set (the stack's SecretsKeyArn \
             output): new secrets are stored in plaintext; `host seal` seals them later"
        );
    }
    let r53 = aws_sdk_route53::Client::new(&cfg);
    // The stack's RecordNames, for the commands that add hosts (unless given as a flag).
    let env_names = env.record_names.clone();
    let result = match cmd {
        Command::HostAdd(mut req) => {
            req.record_names = req.record_names.or(env_names);
            admin::host_add(&table, &r53, req).await
        }
        Command::HostList => admin::host_list(&table).await,
        Command::Import(mut opts) => {
            opts.record_names = env_names;
            import::import(&cfg, &table, &r53, &opts).await
        }
        Command::HostRotate { hostname, url } => {
            admin::host_rotate(&table, &hostname, url.as_deref()).await
        }
        Command::HostRemove { hostname } => admin::host_remove(&table, &hostname).await,
        Command::HostWatch {
            hostname,
            silent_after,
        } => admin::host_watch(&table, &hostname, silent_after).await,
        Command::HostSeal { dry_run } => admin::host_seal(&table, dry_run).await,
        Command::HostLanAdd {
            hostname,
            records,
            record_names,
        } => {
            let names = record_names.or(env_names);
            admin::host_lan_add(&table, &hostname, records, names.as_deref()).await
        }
        Command::HostLanRemove { hostname, names } => {
            admin::host_lan_remove(&table, &hostname, &names).await
        }
        Command::HostLanList { hostname } => admin::host_lan_list(&table, &hostname).await,
        Command::ZoneId { domain } => admin::zone_id(&r53, &domain).await,
        Command::TableCreate => admin::table_create(&table).await,
        Command::Notify(n) => match env.ssm_path.as_deref() {
            Some(path) => {
                let store = ChannelStore::new(AwsJson::ssm(&cfg), path);
                notify_admin::run(&store, n).await
            }
            None => Err(admin::AdminError::Input(
                "DYN53_SSM_PATH is not set (the stack's SsmPath output, e.g. /dyn53/STACK)".into(),
            )),
        },
        _ => unreachable!("not an admin command"),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dyn53-backend: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
