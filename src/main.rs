//! The `comanda` binary: parse the command line, run the command.

use clap::Parser;

use comanda::app::{Application, Arranque};
use comanda::config::{Cli, Comando, Settings, UsuarioComando};
use comanda::cuentas::DEMO_PASSWORD;
use comanda::{cli, telemetry};

/// Every socket holds actix-http's 8 KiB read and write buffers, mostly
/// unused: mimalloc leaves the untouched pages of a block out of the
/// resident set, glibc's inline chunk headers touch them (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Errors reach the operator as one clear line (and their causes), never as
/// a backtrace.
#[actix_web::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args = Cli::parse();
    match args.comando {
        None => serve(args.serve).await,
        Some(Comando::Serve(settings)) => serve(*settings).await,
        Some(Comando::Migrate(store)) => {
            telemetry::init(Default::default());
            cli::migrate(&store).await
        }
        Some(Comando::Usuario {
            accion: UsuarioComando::Crear(crear),
        }) => {
            telemetry::init(Default::default());
            cli::crear_usuario(crear).await
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    telemetry::init(settings.log_format);
    let app = Application::build(settings).await?;
    imprimir_arranque(&app.arranque);
    tracing::info!(port = app.port(), backend = ?app.store().backend(), "comanda escuchando");
    app.run_until_stopped().await?;
    Ok(())
}

/// The one time these passwords are shown.
fn imprimir_arranque(arranque: &Arranque) {
    if let Some(inicial) = &arranque.superadmin_inicial {
        println!(
            "\nPrimer arranque: se creó el usuario «{}» con la contraseña\n\n    {}\n\n\
             Guárdala ahora: no se volverá a mostrar.\n",
            inicial.usuario.usuario, inicial.password
        );
    }
    if let Some((sucursales, usuarios)) = &arranque.demo {
        println!("\nDemo — sucursales:");
        for s in sucursales {
            println!("    {:>3}  {}", s.id, s.nombre);
        }
        println!("Demo — usuarios (contraseña «{DEMO_PASSWORD}» para todos):");
        for u in usuarios {
            let sucursal = u
                .sucursal_id
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into());
            println!(
                "    {:<12} {:<11} sucursal {}",
                u.usuario,
                u.rol.as_str(),
                sucursal
            );
        }
        println!();
    }
}
