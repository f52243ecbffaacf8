//! `usuarios`: accounts. The password hash is read only by [`Store::credenciales`].

use time::OffsetDateTime;

use super::{BeginWrite, Publicar, Store, StoreError};
use crate::modelo::{NuevoEvento, NuevoUsuario, Usuario, UsuarioCambiado, UsuarioId};

/// The columns of a [`Usuario`]; `columnas_usuario!(u)` qualifies them for a
/// `usuarios u` in a FROM clause.
macro_rules! columnas_usuario {
    () => {
        "id, usuario, nombre, rol, sucursal_id, activo, creado"
    };
    ($t:ident) => {
        concat!(
            stringify!($t),
            ".id, ",
            stringify!($t),
            ".usuario, ",
            stringify!($t),
            ".nombre, ",
            stringify!($t),
            ".rol, ",
            stringify!($t),
            ".sucursal_id, ",
            stringify!($t),
            ".activo, ",
            stringify!($t),
            ".creado"
        )
    };
}
pub(super) use columnas_usuario;

#[derive(sqlx::FromRow)]
struct Credenciales {
    #[sqlx(flatten)]
    usuario: Usuario,
    password_hash: String,
}

impl Store {
    pub async fn contar_usuarios(&self) -> Result<i64, StoreError> {
        let n = on_pool!(self, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM usuarios").fetch_one(p).await
        })?;
        Ok(n)
    }

    pub async fn crear_usuario(
        &self,
        nuevo: &NuevoUsuario,
        password_hash: &str,
        creado: OffsetDateTime,
    ) -> Result<Usuario, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "INSERT INTO usuarios (usuario, nombre, password_hash, rol, sucursal_id, activo, creado)
                 VALUES ($1, $2, $3, $4, $5, TRUE, $6) RETURNING ",
                columnas_usuario!()
            ))
            .bind(&nuevo.usuario)
            .bind(nuevo.nombre())
            .bind(password_hash)
            .bind(nuevo.rol.as_str())
            .bind(nuevo.sucursal_id)
            .bind(creado)
            .fetch_one(p)
            .await
        })?;
        Ok(fila)
    }

    pub async fn usuario(&self, id: UsuarioId) -> Result<Option<Usuario>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(concat!("SELECT ", columnas_usuario!(u), " FROM usuarios u WHERE u.id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })?;
        Ok(fila)
    }

    pub async fn usuarios(&self) -> Result<Vec<Usuario>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(concat!("SELECT ", columnas_usuario!(u), " FROM usuarios u ORDER BY u.id"))
                .fetch_all(p)
                .await
        })?;
        Ok(filas)
    }

    /// The user with this login name and its password hash, active or not:
    /// the caller decides, after verifying the password, so that both cases
    /// take the same time.
    pub async fn credenciales(
        &self,
        usuario: &str,
    ) -> Result<Option<(Usuario, String)>, StoreError> {
        let fila: Option<Credenciales> = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_usuario!(u), ", u.password_hash FROM usuarios u WHERE u.usuario = $1"
            ))
            .bind(usuario)
            .fetch_optional(p)
            .await
        })?;
        Ok(fila.map(|c| (c.usuario, c.password_hash)))
    }

    /// Writes the new values; with `revocar`, the user's sessions end in the
    /// same transaction, which publishes `evento` too (the change and its
    /// revocation reach every node, in order, or neither happens).
    pub async fn actualizar_usuario(
        &self,
        id: UsuarioId,
        cambio: &UsuarioCambiado,
        password_hash: Option<&str>,
        revocar: bool,
        evento: Option<NuevoEvento>,
    ) -> Result<Option<Usuario>, StoreError> {
        let fila = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let fila: Option<Usuario> = sqlx::query_as(concat!(
                "UPDATE usuarios SET nombre = $2, rol = $3, sucursal_id = $4, activo = $5,
                        password_hash = COALESCE($6, password_hash)
                 WHERE id = $1 RETURNING ",
                columnas_usuario!()
            ))
            .bind(id)
            .bind(&cambio.nombre)
            .bind(cambio.rol.as_str())
            .bind(cambio.sucursal_id)
            .bind(cambio.activo)
            .bind(password_hash)
            .fetch_optional(&mut *tx)
            .await?;
            if revocar {
                sqlx::query("DELETE FROM sesiones WHERE usuario_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            match evento {
                // No such user: nothing changed, nothing to tell.
                _ if fila.is_none() => tx.rollback().await?,
                Some(evento) => {
                    self.commit_publicando(tx, Publicar::uno(evento)).await?;
                }
                None => tx.commit().await?,
            }
            Ok::<_, sqlx::Error>(fila)
        })?;
        Ok(fila)
    }
}
