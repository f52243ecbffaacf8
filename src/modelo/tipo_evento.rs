//! What an event is (`tipo`) and what kind of row it is about
//! (`entidad_tipo`): the names comanda knows as variants, any other name as
//! it came, written and read as the very same text.

use super::texto::texto_abierto;

texto_abierto! {
    /// An event's `tipo`: the seed's wire names (design §4), the rules' own
    /// events and the revocations of logins. A flat publication
    /// (`POST /api/eventos`) may name any other: `Otro`.
    pub enum TipoEvento {
        VoucherNuevo = "voucher_nuevo",
        VoucherAprobado = "voucher_aprobado",
        VoucherRechazado = "voucher_rechazado",
        PedidoNuevo = "pedido_nuevo",
        PedidoAprobado = "pedido_aprobado",
        PedidoEstado = "pedido_estado",
        AlertaCocina = "alerta_cocina",
        AlertaLeida = "alerta_leida",
        AlertaEscalada = "alerta_escalada",
        RefillSolicitado = "refill_solicitado",
        RefillEstado = "refill_estado",
        ReglaActualizada = "regla_actualizada",
        ReglaFallida = "regla_fallida",
        SesionCerrada = "sesion_cerrada",
        UsuarioActualizado = "usuario_actualizado",
    }
}

texto_abierto! {
    /// The kind of row an event is about (`entidad_tipo`). The seed's column
    /// says "PEDIDO, VOUCHER, etc": a row of the log with another name is
    /// read, as `Otro`, not refused.
    pub enum TipoEntidad {
        Alerta = "ALERTA",
        Pedido = "PEDIDO",
        Refill = "REFILL",
        Voucher = "VOUCHER",
        Usuario = "USUARIO",
        Regla = "REGLA",
    }
}

impl TipoEntidad {
    /// The payload field that names a row of this kind, as the seed's
    /// events do: `alerta_id` for an `ALERTA`, `pedido_id` for a `PEDIDO`, ….
    pub fn campo_del_id(&self) -> String {
        format!("{}_id", self.as_str().to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cada_tipo_conocido_se_lee_y_se_escribe_con_su_nombre() {
        for tipo in TipoEvento::CONOCIDOS {
            assert_eq!(TipoEvento::from(tipo.as_str()), *tipo);
            assert_eq!(
                serde_json::to_value(tipo).unwrap(),
                serde_json::Value::from(tipo.as_str())
            );
        }
        assert_eq!(TipoEvento::CONOCIDOS.len(), 15);
        assert_eq!(
            "alerta_cocina".parse::<TipoEvento>(),
            Ok(TipoEvento::AlertaCocina)
        );
    }

    #[test]
    fn un_tipo_inventado_se_guarda_tal_cual() {
        let tipo: TipoEvento = serde_json::from_str(r#""cliente_llego""#).unwrap();
        assert_eq!(tipo, TipoEvento::Otro("cliente_llego".into()));
        assert_eq!(tipo.to_string(), "cliente_llego");
        assert_eq!(tipo.nombre_conocido(), None);
        assert_eq!(TipoEntidad::from("MESA"), TipoEntidad::Otro("MESA".into()));
    }

    #[test]
    fn el_campo_del_id_es_el_del_seed() {
        assert_eq!(TipoEntidad::Alerta.campo_del_id(), "alerta_id");
        assert_eq!(TipoEntidad::Refill.campo_del_id(), "refill_id");
        assert_eq!(TipoEntidad::from("MESA").campo_del_id(), "mesa_id");
    }
}
