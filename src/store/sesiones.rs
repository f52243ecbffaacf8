//! `sesiones`: logins, found by the SHA-256 of their token.

use time::OffsetDateTime;

use super::usuarios::columnas_usuario;
use super::{Backend, BeginWrite, Publicar, Store, StoreError};
use crate::metricas;
use crate::modelo::{NuevoEvento, Usuario, UsuarioId};

/// A login that has not expired: its user, and when it ends.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SesionVigente {
    #[sqlx(flatten)]
    pub usuario: Usuario,
    pub expira: OffsetDateTime,
}

impl Store {
    /// Records a login of `usuario_id` and forgets its expired ones; with the
    /// account already at `tope` logins, ends its oldest ones so that `tope`
    /// remain, each with its event `cerrada(token_hash)` published in the
    /// same transaction. Answers the token hashes of the logins it ended.
    pub async fn abrir_sesion(
        &self,
        token_hash: &str,
        usuario_id: UsuarioId,
        creada: OffsetDateTime,
        expira: OffsetDateTime,
        tope: usize,
        cerrada: impl Fn(&str) -> NuevoEvento,
    ) -> Result<Vec<String>, StoreError> {
        let postgres = self.backend() == Backend::Postgres;
        let terminadas = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            // One login of an account at a time, so that two at once can't
            // both find room under the cap. (SQLite's `BEGIN IMMEDIATE`
            // already lets one writer in at a time.) `NO KEY`: a row lock
            // that foreign keys to the account don't wait for — a
            // transaction of the account holding the publication turn
            // checks one when it inserts its event, while this one may be
            // waiting for the turn.
            if postgres {
                sqlx::query("SELECT id FROM usuarios WHERE id = $1 FOR NO KEY UPDATE")
                    .bind(usuario_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM sesiones WHERE usuario_id = $1 AND expira <= $2")
                .bind(usuario_id)
                .bind(creada)
                .execute(&mut *tx)
                .await?;
            let vivas: Vec<String> = sqlx::query_scalar(
                "SELECT token_hash FROM sesiones WHERE usuario_id = $1 ORDER BY creada, token_hash",
            )
            .bind(usuario_id)
            .fetch_all(&mut *tx)
            .await?;
            let sobran = (vivas.len() + 1).saturating_sub(tope.max(1));
            let terminadas = &vivas[..sobran.min(vivas.len())];
            for hash in terminadas {
                sqlx::query("DELETE FROM sesiones WHERE token_hash = $1")
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO sesiones (token_hash, usuario_id, creada, expira) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(usuario_id)
            .bind(creada)
            .bind(expira)
            .execute(&mut *tx)
            .await?;
            if terminadas.is_empty() {
                tx.commit().await?;
            } else {
                let publicar = Publicar {
                    eventos: terminadas.iter().map(|h| cerrada(h)).collect(),
                    ..Default::default()
                };
                self.commit_publicando(tx, publicar).await?;
            }
            Ok::<_, sqlx::Error>(terminadas.to_vec())
        })?;
        Ok(terminadas)
    }

    /// Records a login, and forgets the user's expired ones: a login with
    /// no cap on the account's others (tests make sessions of any age with
    /// it); `POST /api/login` uses [`Store::abrir_sesion`].
    pub async fn crear_sesion(
        &self,
        token_hash: &str,
        usuario_id: UsuarioId,
        creada: OffsetDateTime,
        expira: OffsetDateTime,
    ) -> Result<(), StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            sqlx::query("DELETE FROM sesiones WHERE usuario_id = $1 AND expira <= $2")
                .bind(usuario_id)
                .bind(creada)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sesiones (token_hash, usuario_id, creada, expira) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(usuario_id)
            .bind(creada)
            .bind(expira)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// The active user behind a session that has not expired at `ahora`,
    /// and when the session expires.
    pub async fn usuario_de_sesion(
        &self,
        token_hash: &str,
        ahora: OffsetDateTime,
    ) -> Result<Option<SesionVigente>, StoreError> {
        // Every authenticated request and socket pays for this one.
        let fila = metricas::medir_store("usuario_de_sesion", async {
            on_pool!(self, p => {
                sqlx::query_as(concat!(
                    "SELECT ", columnas_usuario!(u), ", s.expira FROM sesiones s JOIN usuarios u ON u.id = s.usuario_id
                     WHERE s.token_hash = $1 AND s.expira > $2 AND u.activo"
                ))
                .bind(token_hash)
                .bind(ahora)
                .fetch_optional(p)
                .await
            })
        })
        .await?;
        Ok(fila)
    }

    /// Ends one login, publishing `evento` in the same transaction; answers
    /// whether it was there (a second logout of the same login publishes
    /// nothing).
    pub async fn cerrar_sesion(
        &self,
        token_hash: &str,
        evento: NuevoEvento,
    ) -> Result<bool, StoreError> {
        let cerrada = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let borradas = sqlx::query("DELETE FROM sesiones WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if borradas == 0 {
                tx.rollback().await?;
            } else {
                self.commit_publicando(tx, Publicar::uno(evento)).await?;
            }
            Ok::<_, sqlx::Error>(borradas > 0)
        })?;
        Ok(cerrada)
    }

    /// What the table keeps of a user's sessions: their token hashes.
    pub async fn sesiones_de(&self, usuario_id: UsuarioId) -> Result<Vec<String>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_scalar("SELECT token_hash FROM sesiones WHERE usuario_id = $1")
                .bind(usuario_id)
                .fetch_all(p)
                .await
        })?;
        Ok(filas)
    }
}
