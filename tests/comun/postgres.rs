//! A fresh Postgres database per test, dropped with it (trust auth; CI drops
//! any `comanda_test_*` an interrupted run left). Shared by the test
//! binaries through `#[path]`.

// Each test binary that includes this file uses a part of it.
#![allow(dead_code)]

use std::time::Duration;

use sqlx::{Connection, PgConnection};

/// Where the tests create their databases (trust auth).
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one test, dropped with it.
pub struct BaseDeDatos {
    /// What the nodes get as `--database-url`.
    pub url: String,
    pub nombre: String,
    admin: String,
}

impl BaseDeDatos {
    /// On the machine's Postgres ([`admin_database_url`]).
    pub async fn nueva() -> Self {
        Self::nueva_en(&admin_database_url()).await
    }

    /// On the server that `admin` (a URL with a database) points at.
    pub async fn nueva_en(admin: &str) -> Self {
        let mut conn = PgConnection::connect(admin).await.unwrap_or_else(|e| {
            panic!(
                "Postgres no responde en {admin}: {e}\n\
                 Los tests de Postgres no se saltan. Arráncalo \
                 (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) \
                 o apunta TEST_DATABASE_URL a uno que funcione."
            )
        });
        let nombre = format!("comanda_test_{:016x}", rand::random::<u64>());
        sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"CREATE DATABASE "{nombre}""#
        )))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
        let _ = conn.close().await;
        let (base, _) = admin
            .rsplit_once('/')
            .expect("la URL de administración nombra una base");
        BaseDeDatos {
            url: format!("{base}/{nombre}"),
            nombre,
            admin: admin.to_owned(),
        }
    }

    /// A connection to this test's database.
    pub async fn conectar(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("no se pudo conectar a {}: {e}", self.url))
    }
}

impl Drop for BaseDeDatos {
    fn drop(&mut self) {
        let (admin, nombre) = (self.admin.clone(), self.nombre.clone());
        // Drop may run inside the test's runtime: the async cleanup gets a
        // thread and a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let conectar = PgConnection::connect(&admin);
                if let Ok(Ok(mut conn)) =
                    tokio::time::timeout(Duration::from_secs(5), conectar).await
                {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        r#"DROP DATABASE IF EXISTS "{nombre}" WITH (FORCE)"#
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}
