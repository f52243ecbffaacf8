//! A client's WebSocket frames (RFC 6455 §5), read by comanda itself and
//! judged at their header.
//!
//! actix-http's parser wants a whole frame in memory before it compares its
//! length with the limit: a client that declares a gigabyte and streams it
//! is buffered until the process runs out. Here a frame's length, and a
//! fragmented message's length so far, are checked as soon as the header
//! says them, so a socket never holds more than the limit and one read.
//! Every rule of the RFC a server must enforce fails the connection with
//! the code §7.4.1 gives it: 1002 for a broken protocol, 1007 for text that
//! is not UTF-8, 1009 for a message over the limit.

use actix_http::ws::{CloseCode, CloseReason};
use actix_web::web::{Bytes, BytesMut};
use bytestring::ByteString;

use super::protocolo::cierre;

/// A client's frame, whole (continuations joined).
#[derive(Debug, PartialEq, Eq)]
pub enum FrameCliente {
    Texto(ByteString),
    Binario(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Cierre(Option<CloseReason>),
}

/// Why a client's bytes are not a WebSocket conversation comanda takes.
/// The message goes to the client as its close reason: it fits one
/// (123 bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame de {declared} bytes: el límite es {limit}")]
    TooBig { declared: u64, limit: usize },
    #[error("mensaje en fragmentos de más de {limit} bytes")]
    MessageTooBig { limit: usize },
    #[error("frame del cliente sin máscara")]
    Unmasked,
    #[error("bits reservados sin extensión")]
    ReservedBits,
    #[error("opcode desconocido {0:#x}")]
    UnknownOpcode(u8),
    #[error("frame de control fragmentado")]
    FragmentedControl,
    #[error("frame de control de más de 125 bytes")]
    ControlTooLong,
    #[error("continuación sin mensaje que continuar")]
    NothingToContinue,
    #[error("mensaje nuevo en medio de uno fragmentado")]
    MessageInterrupted,
    #[error("longitud de 64 bits con el bit más alto")]
    LengthHighBit,
    #[error("cierre de un solo byte")]
    CloseOneByte,
    #[error("código de cierre {0} no permitido")]
    CloseCodeNotAllowed(u16),
    #[error("texto que no es UTF-8")]
    InvalidUtf8,
}

impl FrameError {
    /// The close code that answers it (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::TooBig { .. } | FrameError::MessageTooBig { .. } => {
                cierre::DEMASIADO_GRANDE
            }
            FrameError::InvalidUtf8 => cierre::DATOS_NO_VALIDOS,
            _ => cierre::ERROR_DE_PROTOCOLO,
        }
    }
}

/// Whether a close frame may carry `code` (RFC 6455 §7.4 and IANA's
/// registry): not 1004–1006 or 1015 (reserved, never on the wire), not
/// 1016–2999 (unassigned), nothing outside 1000–4999.
pub fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// What [`Decoder::decode`] found at the start of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Frame(FrameCliente),
    /// No whole frame yet: the buffer must hold this many bytes for the
    /// next step — the rest of the header, or, once the header is in, the
    /// whole frame (which the limit bounds).
    Need(usize),
}

/// Reads a client's frames out of what its socket gave, keeping a
/// fragmented message between calls. After an error it has nothing more to
/// say: the connection is failed.
#[derive(Debug)]
pub struct Decoder {
    limit: usize,
    message: Option<Fragmented>,
}

/// A data message arriving in fragments.
#[derive(Debug)]
struct Fragmented {
    text: bool,
    data: Vec<u8>,
    /// How much of `data` is known to be UTF-8 (a character may be cut at
    /// its end, for the next fragment to complete).
    checked: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn parse(bits: u8) -> Result<Self, FrameError> {
        Ok(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            otro => return Err(FrameError::UnknownOpcode(otro)),
        })
    }

    fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

#[derive(Debug)]
struct Header {
    fin: bool,
    opcode: Opcode,
    mask: [u8; 4],
    /// Payload bytes (at most the limit).
    len: usize,
    /// Header bytes: 2, 4 or 10, and the 4 of the mask.
    size: usize,
}

enum Parsed {
    Header(Header),
    Need(usize),
}

/// Control frames carry at most 125 bytes (RFC 6455 §5.5).
const MAX_CONTROL: u8 = 125;

impl Decoder {
    /// Frames and messages of at most `limit` payload bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            message: None,
        }
    }

    /// Takes the next whole frame or message from the start of `buf`;
    /// control frames between the fragments of a message come out as they
    /// arrive. A header is judged as soon as the bytes that decide are in,
    /// before any of the payload.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, FrameError> {
        loop {
            let header = match self.header(buf)? {
                Parsed::Header(h) => h,
                Parsed::Need(n) => return Ok(Decoded::Need(n)),
            };
            let total = header.size + header.len;
            if buf.len() < total {
                return Ok(Decoded::Need(total));
            }
            let mut payload = buf.split_to(total).split_off(header.size);
            unmask(&mut payload, header.mask);
            if let Some(frame) = self.frame(&header, payload)? {
                return Ok(Decoded::Frame(frame));
            }
        }
    }

    fn header(&self, b: &[u8]) -> Result<Parsed, FrameError> {
        let Some(&first) = b.first() else {
            return Ok(Parsed::Need(2));
        };
        if first & 0x70 != 0 {
            return Err(FrameError::ReservedBits);
        }
        let fin = first & 0x80 != 0;
        let opcode = Opcode::parse(first & 0x0f)?;
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControl);
        }
        match (opcode, &self.message) {
            (Opcode::Continuation, None) => return Err(FrameError::NothingToContinue),
            (Opcode::Text | Opcode::Binary, Some(_)) => return Err(FrameError::MessageInterrupted),
            _ => {}
        }
        let Some(&second) = b.get(1) else {
            return Ok(Parsed::Need(2));
        };
        if second & 0x80 == 0 {
            return Err(FrameError::Unmasked);
        }
        let (len, at) = match second & 0x7f {
            n if opcode.is_control() && n > MAX_CONTROL => {
                return Err(FrameError::ControlTooLong);
            }
            126 => match b.get(2..4) {
                Some(l) => (u64::from(u16::from_be_bytes([l[0], l[1]])), 4),
                None => return Ok(Parsed::Need(4)),
            },
            // A 63-bit number: its top bit shows in the first byte.
            127 if b.get(2).is_some_and(|alto| alto & 0x80 != 0) => {
                return Err(FrameError::LengthHighBit);
            }
            127 => match b.get(2..10).and_then(|l| <[u8; 8]>::try_from(l).ok()) {
                Some(l) => (u64::from_be_bytes(l), 10),
                None => return Ok(Parsed::Need(10)),
            },
            n => (u64::from(n), 2),
        };
        // What the message already holds counts against the limit too.
        let so_far = match (opcode, &self.message) {
            (Opcode::Continuation, Some(m)) => m.data.len(),
            _ => 0,
        };
        if len > (self.limit - so_far) as u64 {
            return Err(match opcode {
                Opcode::Continuation => FrameError::MessageTooBig { limit: self.limit },
                _ => FrameError::TooBig {
                    declared: len,
                    limit: self.limit,
                },
            });
        }
        let size = at + 4;
        let Some(mask) = b.get(at..size).and_then(|m| <[u8; 4]>::try_from(m).ok()) else {
            return Ok(Parsed::Need(size));
        };
        Ok(Parsed::Header(Header {
            fin,
            opcode,
            mask,
            len: len as usize,
            size,
        }))
    }

    /// The frame `header` introduced, its payload unmasked: a frame for the
    /// session, or `None` for a fragment of a message still incomplete.
    fn frame(
        &mut self,
        header: &Header,
        payload: BytesMut,
    ) -> Result<Option<FrameCliente>, FrameError> {
        let frame = match header.opcode {
            Opcode::Ping => FrameCliente::Ping(payload.freeze()),
            Opcode::Pong => FrameCliente::Pong(payload.freeze()),
            Opcode::Close => FrameCliente::Cierre(close_reason(&payload)?),
            Opcode::Text | Opcode::Binary if !header.fin => {
                let mut message = Fragmented {
                    text: header.opcode == Opcode::Text,
                    data: Vec::new(),
                    checked: 0,
                };
                message.push(&payload, self.limit)?;
                self.message = Some(message);
                return Ok(None);
            }
            Opcode::Text => FrameCliente::Texto(text(payload.freeze())?),
            Opcode::Binary => FrameCliente::Binario(payload.freeze()),
            Opcode::Continuation => {
                let Some(message) = self.message.as_mut() else {
                    return Err(FrameError::NothingToContinue);
                };
                message.push(&payload, self.limit)?;
                match (header.fin, self.message.take()) {
                    (true, Some(message)) => message.finish()?,
                    (_, message) => {
                        self.message = message;
                        return Ok(None);
                    }
                }
            }
        };
        Ok(Some(frame))
    }
}

impl Fragmented {
    /// Adds a fragment. The buffer grows like a `Vec` but never past the
    /// limit. Text that can no longer become UTF-8 fails here, not once the
    /// message is whole.
    fn push(&mut self, part: &[u8], limit: usize) -> Result<(), FrameError> {
        let needed = self.data.len() + part.len();
        if needed > self.data.capacity() {
            let target = needed.max(self.data.capacity() * 2).min(limit.max(needed));
            self.data.reserve_exact(target - self.data.len());
        }
        self.data.extend_from_slice(part);
        if self.text {
            match std::str::from_utf8(&self.data[self.checked..]) {
                Ok(_) => self.checked = self.data.len(),
                Err(e) if e.error_len().is_some() => return Err(FrameError::InvalidUtf8),
                Err(e) => self.checked += e.valid_up_to(),
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<FrameCliente, FrameError> {
        let data = Bytes::from(self.data);
        Ok(match self.text {
            true => FrameCliente::Texto(text(data)?),
            false => FrameCliente::Binario(data),
        })
    }
}

fn text(data: Bytes) -> Result<ByteString, FrameError> {
    ByteString::try_from(data).map_err(|_| FrameError::InvalidUtf8)
}

/// A close frame's payload (RFC 6455 §5.5.1): nothing, or a code that may
/// be sent and a UTF-8 reason.
fn close_reason(payload: &[u8]) -> Result<Option<CloseReason>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::CloseOneByte),
        [alto, bajo, motivo @ ..] => {
            let code = u16::from_be_bytes([*alto, *bajo]);
            if !close_code_allowed(code) {
                return Err(FrameError::CloseCodeNotAllowed(code));
            }
            let motivo = std::str::from_utf8(motivo).map_err(|_| FrameError::InvalidUtf8)?;
            Ok(Some(CloseReason {
                code: CloseCode::from(code),
                description: (!motivo.is_empty()).then(|| motivo.to_owned()),
            }))
        }
    }
}

fn unmask(data: &mut [u8], mask: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITE: usize = 64 * 1024;
    const MASCARA: [u8; 4] = [0x1f, 0x2e, 0x3d, 0x4c];
    const TEXTO: u8 = 0x1;
    const BINARIO: u8 = 0x2;
    const CONTINUACION: u8 = 0x0;
    const CIERRE: u8 = 0x8;
    const PING: u8 = 0x9;
    const PONG: u8 = 0xA;

    /// The header of a masked client frame declaring `largo` bytes, with
    /// the shortest length encoding.
    fn cabecera(op: u8, fin: bool, largo: u64) -> Vec<u8> {
        let mut f = vec![op | if fin { 0x80 } else { 0 }];
        match largo {
            0..=125 => f.push(0x80 | largo as u8),
            126..=0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(largo as u16).to_be_bytes());
            }
            _ => {
                f.push(0x80 | 127);
                f.extend_from_slice(&largo.to_be_bytes());
            }
        }
        f.extend_from_slice(&MASCARA);
        f
    }

    /// A whole masked client frame.
    fn frame(op: u8, fin: bool, datos: &[u8]) -> Vec<u8> {
        let mut f = cabecera(op, fin, datos.len() as u64);
        f.extend(datos.iter().enumerate().map(|(i, b)| b ^ MASCARA[i % 4]));
        f
    }

    fn cierre(codigo: u16, motivo: &[u8]) -> Vec<u8> {
        let mut datos = codigo.to_be_bytes().to_vec();
        datos.extend_from_slice(motivo);
        frame(CIERRE, true, &datos)
    }

    type Lectura = Result<Decoded, FrameError>;

    fn concat(partes: &[Vec<u8>]) -> Vec<u8> {
        partes.concat()
    }

    /// Everything a decoder makes of `bytes` handed over in pieces of the
    /// given sizes (the last piece takes the rest): the frames in order,
    /// then the error if there is one. What is left unread at the end
    /// shows as `Need`.
    fn leer_en_trozos(bytes: &[u8], trozos: &[usize]) -> Vec<Lectura> {
        let mut decoder = Decoder::new(LIMITE);
        let mut buf = BytesMut::new();
        let mut salida = Vec::new();
        let mut resto = bytes;
        let mut trozos = trozos.iter();
        loop {
            let n = trozos
                .next()
                .copied()
                .unwrap_or(resto.len())
                .min(resto.len());
            buf.extend_from_slice(&resto[..n]);
            resto = &resto[n..];
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Decoded::Frame(f)) => salida.push(Ok(Decoded::Frame(f))),
                    Ok(Decoded::Need(n)) => {
                        assert!(n > buf.len(), "pide {n} teniendo {}", buf.len());
                        if resto.is_empty() {
                            salida.push(Ok(Decoded::Need(n)));
                            return salida;
                        }
                        break;
                    }
                    Err(e) => {
                        salida.push(Err(e));
                        return salida;
                    }
                }
            }
        }
    }

    fn leer(bytes: &[u8]) -> Vec<Lectura> {
        leer_en_trozos(bytes, &[])
    }

    fn texto(t: &str) -> Result<Decoded, FrameError> {
        Ok(Decoded::Frame(FrameCliente::Texto(t.into())))
    }

    fn binario(b: &[u8]) -> Result<Decoded, FrameError> {
        Ok(Decoded::Frame(FrameCliente::Binario(
            Bytes::copy_from_slice(b),
        )))
    }

    fn ping(b: &[u8]) -> Result<Decoded, FrameError> {
        Ok(Decoded::Frame(FrameCliente::Ping(Bytes::copy_from_slice(
            b,
        ))))
    }

    fn cerrado(codigo: u16, motivo: Option<&str>) -> Result<Decoded, FrameError> {
        Ok(Decoded::Frame(FrameCliente::Cierre(Some(CloseReason {
            code: CloseCode::from(codigo),
            description: motivo.map(str::to_owned),
        }))))
    }

    const NADA: Result<Decoded, FrameError> = Ok(Decoded::Need(2));

    /// Byte strings and what they must read as, every rule of the module
    /// doc among them.
    fn casos() -> Vec<(&'static str, Vec<u8>, Vec<Lectura>)> {
        let grande = "x".repeat(LIMITE);
        let mitad = "y".repeat(LIMITE / 2);
        vec![
            (
                "texto vacío",
                frame(TEXTO, true, b""),
                vec![texto(""), NADA],
            ),
            (
                "texto de 125, 126 y 65535 bytes (longitud de 7, 16 y 16 bits)",
                concat(&[
                    frame(TEXTO, true, &[b'a'; 125]),
                    frame(TEXTO, true, &[b'b'; 126]),
                    frame(TEXTO, true, &[b'c'; 0xffff]),
                ]),
                vec![
                    texto(&"a".repeat(125)),
                    texto(&"b".repeat(126)),
                    texto(&"c".repeat(0xffff)),
                    NADA,
                ],
            ),
            (
                "64 KiB justos (longitud de 64 bits)",
                frame(BINARIO, true, grande.as_bytes()),
                vec![binario(grande.as_bytes()), NADA],
            ),
            (
                "64 KiB justos en dos fragmentos, con un ping y un pong en medio",
                concat(&[
                    frame(TEXTO, false, mitad.as_bytes()),
                    frame(PING, true, b"hola"),
                    frame(PONG, true, b""),
                    frame(CONTINUACION, true, mitad.as_bytes()),
                ]),
                vec![
                    ping(b"hola"),
                    Ok(Decoded::Frame(FrameCliente::Pong(Bytes::new()))),
                    texto(&format!("{mitad}{mitad}")),
                    NADA,
                ],
            ),
            (
                "binario en tres fragmentos, uno vacío",
                concat(&[
                    frame(BINARIO, false, &[0, 1]),
                    frame(CONTINUACION, false, b""),
                    frame(CONTINUACION, true, &[0xff]),
                ]),
                vec![binario(&[0, 1, 0xff]), NADA],
            ),
            (
                "un carácter partido entre dos fragmentos",
                concat(&[
                    frame(TEXTO, false, &"ñandú".as_bytes()[..1]),
                    frame(CONTINUACION, true, &"ñandú".as_bytes()[1..]),
                ]),
                vec![texto("ñandú"), NADA],
            ),
            (
                "ping de 125 bytes",
                frame(PING, true, &[7; 125]),
                vec![ping(&[7; 125]), NADA],
            ),
            (
                "cierre vacío",
                frame(CIERRE, true, b""),
                vec![Ok(Decoded::Frame(FrameCliente::Cierre(None))), NADA],
            ),
            (
                "cierre con código y motivo",
                cierre(4321, "adiós".as_bytes()),
                vec![cerrado(4321, Some("adiós")), NADA],
            ),
            (
                "cierre con 1000, 1003, 1007, 1014, 3000 y 4999",
                concat(&[1000, 1003, 1007, 1014, 3000, 4999].map(|c| cierre(c, b""))),
                [1000, 1003, 1007, 1014, 3000, 4999]
                    .map(|c| cerrado(c, None))
                    .into_iter()
                    .chain([NADA])
                    .collect(),
            ),
            (
                "un frame de más de 64 KiB",
                frame(BINARIO, true, &vec![0; LIMITE + 1]),
                vec![Err(FrameError::TooBig {
                    declared: LIMITE as u64 + 1,
                    limit: LIMITE,
                })],
            ),
            (
                "fragmentos que suman más de 64 KiB",
                concat(&[
                    frame(TEXTO, false, mitad.as_bytes()),
                    frame(CONTINUACION, false, mitad.as_bytes()),
                    frame(CONTINUACION, true, b"z"),
                ]),
                vec![Err(FrameError::MessageTooBig { limit: LIMITE })],
            ),
            (
                "sin máscara",
                vec![0x81, 0x02, b'{', b'}'],
                vec![Err(FrameError::Unmasked)],
            ),
            (
                "bits reservados",
                frame(0x40 | TEXTO, true, b"{}"),
                vec![Err(FrameError::ReservedBits)],
            ),
            (
                "RSV3",
                frame(0x10 | PING, true, b""),
                vec![Err(FrameError::ReservedBits)],
            ),
            (
                "opcode 0x3",
                frame(0x3, true, b""),
                vec![Err(FrameError::UnknownOpcode(0x3))],
            ),
            (
                "opcode 0xB",
                frame(0xB, true, b""),
                vec![Err(FrameError::UnknownOpcode(0xB))],
            ),
            (
                "ping con FIN=0",
                frame(PING, false, b"hola"),
                vec![Err(FrameError::FragmentedControl)],
            ),
            (
                "cierre con FIN=0",
                frame(CIERRE, false, &1000u16.to_be_bytes()),
                vec![Err(FrameError::FragmentedControl)],
            ),
            (
                "ping de 126 bytes",
                frame(PING, true, &[7; 126]),
                vec![Err(FrameError::ControlTooLong)],
            ),
            (
                "pong de 126 bytes en medio de un mensaje",
                concat(&[frame(TEXTO, false, b"{"), frame(PONG, true, &[7; 126])]),
                vec![Err(FrameError::ControlTooLong)],
            ),
            (
                "continuación sin comienzo",
                frame(CONTINUACION, true, b"{}"),
                vec![Err(FrameError::NothingToContinue)],
            ),
            (
                "continuación tras un mensaje ya completo",
                concat(&[frame(TEXTO, true, b"{}"), frame(CONTINUACION, true, b"{}")]),
                vec![texto("{}"), Err(FrameError::NothingToContinue)],
            ),
            (
                "mensaje nuevo en medio de otro",
                concat(&[frame(TEXTO, false, b"{"), frame(BINARIO, true, b"}")]),
                vec![Err(FrameError::MessageInterrupted)],
            ),
            (
                "longitud de 64 bits con el bit alto",
                {
                    let mut b = vec![0x80 | BINARIO, 0x80 | 127];
                    b.extend_from_slice(&(1u64 << 63 | 2).to_be_bytes());
                    b.extend_from_slice(&MASCARA);
                    b.extend_from_slice(b"{}");
                    b
                },
                vec![Err(FrameError::LengthHighBit)],
            ),
            (
                "cierre de un byte",
                frame(CIERRE, true, &[3]),
                vec![Err(FrameError::CloseOneByte)],
            ),
            (
                "cierre con 1005",
                cierre(1005, b""),
                vec![Err(FrameError::CloseCodeNotAllowed(1005))],
            ),
            (
                "texto que no es UTF-8",
                frame(TEXTO, true, &[b'"', 0xff, b'"']),
                vec![Err(FrameError::InvalidUtf8)],
            ),
            (
                "texto que acaba a mitad de un carácter",
                frame(TEXTO, true, &[b'"', 0xc3]),
                vec![Err(FrameError::InvalidUtf8)],
            ),
            (
                "un mensaje en fragmentos que acaba a mitad de un carácter",
                concat(&[
                    frame(TEXTO, false, b"a"),
                    frame(CONTINUACION, true, &[0xc3]),
                ]),
                vec![Err(FrameError::InvalidUtf8)],
            ),
            (
                "motivo de cierre que no es UTF-8",
                cierre(1000, &[b'a', 0xff]),
                vec![Err(FrameError::InvalidUtf8)],
            ),
        ]
    }

    #[test]
    fn cada_caso_se_lee_como_dice_el_rfc() {
        for (que, bytes, esperado) in casos() {
            assert_eq!(leer(&bytes), esperado, "{que}");
        }
    }

    #[test]
    fn cortado_en_cualquier_byte_o_byte_a_byte_se_lee_igual() {
        for (que, bytes, esperado) in casos() {
            // Frames of 64 KiB make every cut too slow: their first and
            // last 64 bytes hold every header.
            let cortes: Vec<usize> = (0..=bytes.len())
                .filter(|&i| i < 64 || bytes.len() - i < 64 || bytes.len() < 1024)
                .collect();
            for corte in cortes {
                assert_eq!(
                    leer_en_trozos(&bytes, &[corte]),
                    esperado,
                    "{que}, cortado en {corte}"
                );
            }
            if bytes.len() <= 4096 {
                assert_eq!(
                    leer_en_trozos(&bytes, &vec![1; bytes.len()]),
                    esperado,
                    "{que}, byte a byte"
                );
            }
        }
    }

    #[test]
    fn cada_error_tiene_su_codigo_de_cierre_y_cabe_en_un_cierre() {
        let errores = [
            (
                FrameError::TooBig {
                    declared: u64::MAX >> 1,
                    limit: usize::MAX,
                },
                1009,
            ),
            (FrameError::MessageTooBig { limit: usize::MAX }, 1009),
            (FrameError::InvalidUtf8, 1007),
            (FrameError::Unmasked, 1002),
            (FrameError::ReservedBits, 1002),
            (FrameError::UnknownOpcode(0xf), 1002),
            (FrameError::FragmentedControl, 1002),
            (FrameError::ControlTooLong, 1002),
            (FrameError::NothingToContinue, 1002),
            (FrameError::MessageInterrupted, 1002),
            (FrameError::LengthHighBit, 1002),
            (FrameError::CloseOneByte, 1002),
            (FrameError::CloseCodeNotAllowed(65535), 1002),
        ];
        for (error, codigo) in errores {
            assert_eq!(error.close_code(), codigo, "{error}");
            assert!(error.to_string().len() <= 123, "{error}");
        }
    }

    #[test]
    fn los_codigos_de_cierre_son_los_que_se_pueden_enviar() {
        for codigo in 0..=u16::MAX {
            let permitido = (1000..=1003).contains(&codigo)
                || (1007..=1014).contains(&codigo)
                || (3000..=4999).contains(&codigo);
            assert_eq!(close_code_allowed(codigo), permitido, "{codigo}");
            let leido = leer(&cierre(codigo, b""));
            match permitido {
                true => assert_eq!(leido, vec![cerrado(codigo, None), NADA], "{codigo}"),
                false => assert_eq!(
                    leido,
                    vec![Err(FrameError::CloseCodeNotAllowed(codigo))],
                    "{codigo}"
                ),
            }
        }
    }

    /// The limit is checked at the header: none of the payload is needed,
    /// not even the mask for a 64-bit length.
    #[test]
    fn lo_demasiado_grande_se_rechaza_con_solo_la_cabecera() {
        let gib = cabecera(BINARIO, true, 1 << 30);
        assert_eq!(
            leer(&gib[..10]),
            vec![Err(FrameError::TooBig {
                declared: 1 << 30,
                limit: LIMITE
            })]
        );
        let justo_de_mas = cabecera(TEXTO, false, LIMITE as u64 + 1);
        assert_eq!(
            leer(&justo_de_mas[..10]),
            vec![Err(FrameError::TooBig {
                declared: LIMITE as u64 + 1,
                limit: LIMITE
            })]
        );
        // 60 KiB in, then a fragment's header that takes the message past 64 KiB.
        let mut bytes = frame(TEXTO, false, &[b' '; 60 * 1024]);
        bytes.extend(cabecera(CONTINUACION, false, 60 * 1024));
        assert_eq!(
            leer(&bytes[..bytes.len() - 4]),
            vec![Err(FrameError::MessageTooBig { limit: LIMITE })]
        );
        // 4 KiB more would still fit: it waits for them.
        let mut bytes = frame(TEXTO, false, &[b' '; 60 * 1024]);
        bytes.extend(cabecera(CONTINUACION, true, 4 * 1024));
        assert_eq!(leer(&bytes), vec![Ok(Decoded::Need(4 * 1024 + 8))]);
    }

    /// A protocol error is found with the first byte that shows it.
    #[test]
    fn los_errores_de_cabecera_se_ven_al_primer_byte_que_los_muestra() {
        for (que, primero, error) in [
            ("bits reservados", 0xC1, FrameError::ReservedBits),
            ("opcode desconocido", 0x83, FrameError::UnknownOpcode(3)),
            ("ping con FIN=0", PING, FrameError::FragmentedControl),
            (
                "continuación sin comienzo",
                0x80,
                FrameError::NothingToContinue,
            ),
        ] {
            assert_eq!(leer(&[primero]), vec![Err(error)], "{que}");
        }
        assert_eq!(leer(&[0x81, 0x02]), vec![Err(FrameError::Unmasked)]);
        assert_eq!(leer(&[0x89, 0xFE]), vec![Err(FrameError::ControlTooLong)]);
        assert_eq!(
            leer(&[0x82, 0xFF, 0x80]),
            vec![Err(FrameError::LengthHighBit)]
        );
    }

    #[test]
    fn pide_lo_que_le_falta_para_el_siguiente_paso() {
        assert_eq!(leer(&[]), vec![Ok(Decoded::Need(2))]);
        assert_eq!(leer(&[0x81]), vec![Ok(Decoded::Need(2))]);
        assert_eq!(leer(&[0x81, 0x85]), vec![Ok(Decoded::Need(6))]);
        assert_eq!(leer(&[0x81, 0x85, 1, 2, 3, 4]), vec![Ok(Decoded::Need(11))]);
        assert_eq!(leer(&[0x81, 0xFE]), vec![Ok(Decoded::Need(4))]);
        assert_eq!(leer(&[0x81, 0xFE, 0x01, 0x00]), vec![Ok(Decoded::Need(8))]);
        assert_eq!(
            leer(&[0x81, 0xFE, 0x01, 0x00, 1, 2, 3, 4]),
            vec![Ok(Decoded::Need(8 + 256))]
        );
        assert_eq!(leer(&[0x82, 0xFF, 0, 0]), vec![Ok(Decoded::Need(10))]);
        assert_eq!(
            leer(&cabecera(BINARIO, true, LIMITE as u64)),
            vec![Ok(Decoded::Need(14 + LIMITE))]
        );
    }

    /// Text that can't become UTF-8 fails with its fragment, before the
    /// message is whole.
    #[test]
    fn el_texto_invalido_falla_en_su_fragmento() {
        let bytes = concat(&[
            frame(TEXTO, false, "{\"mensaje\":\"añ".as_bytes()),
            frame(CONTINUACION, false, &[0xc3, 0x28]),
        ]);
        assert_eq!(leer(&bytes), vec![Err(FrameError::InvalidUtf8)]);
        // Binary is not text: anything goes.
        let bytes = concat(&[
            frame(BINARIO, false, &[0xc3]),
            frame(CONTINUACION, true, &[0x28]),
        ]);
        assert_eq!(leer(&bytes), vec![binario(&[0xc3, 0x28]), NADA]);
    }

    /// Properties over generated byte strings (`fuzz/`'s `lector_de_frames`
    /// checks the same on what libFuzzer makes up): frames near the rules,
    /// some breaking them, in any pieces.
    mod propiedades {
        use super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;

        /// A client frame: mostly valid, sometimes with a reserved bit, an
        /// unknown opcode, no mask or a long control payload.
        fn un_frame() -> impl Strategy<Value = Vec<u8>> {
            (
                prop::sample::select(vec![0u8, 1, 2, 8, 9, 10, 3, 0x40 | 1]),
                any::<bool>(),
                prop::bool::weighted(0.97),
                vec(any::<u8>(), 0..300),
            )
                .prop_map(|(op, fin, mascara, datos)| {
                    let mut f = frame(op, fin, &datos);
                    if !mascara {
                        f[1] &= 0x7f;
                    }
                    f
                })
        }

        proptest! {
            #[test]
            fn en_cualquier_trozo_se_lee_igual_y_obedece_al_rfc(
                frames in vec(un_frame(), 0..8),
                trozos in vec(1usize..40, 0..40),
            ) {
                let bytes = frames.concat();
                let entero = leer(&bytes);
                prop_assert_eq!(&leer_en_trozos(&bytes, &trozos), &entero);
                for lectura in &entero {
                    match lectura {
                        Ok(Decoded::Frame(FrameCliente::Ping(b) | FrameCliente::Pong(b))) => {
                            prop_assert!(b.len() <= 125)
                        }
                        Ok(Decoded::Frame(FrameCliente::Cierre(Some(m)))) => {
                            prop_assert!(close_code_allowed(u16::from(m.code)))
                        }
                        Ok(Decoded::Need(n)) => prop_assert!(*n <= LIMITE + 14),
                        Err(e) => prop_assert!(matches!(e.close_code(), 1002 | 1007 | 1009)),
                        _ => {}
                    }
                }
            }

            #[test]
            fn cualquier_byte_es_un_frame_una_espera_o_un_error(
                bytes in vec(any::<u8>(), 0..200),
                trozos in vec(1usize..20, 0..20),
            ) {
                prop_assert_eq!(leer_en_trozos(&bytes, &trozos), leer(&bytes));
            }
        }
    }

    /// A message joined from fragments is held once, in a buffer no larger
    /// than the limit.
    #[test]
    fn un_mensaje_en_muchos_fragmentos_no_pasa_del_limite_en_memoria() {
        let mut decoder = Decoder::new(LIMITE);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame(BINARIO, false, &[1; 1000]));
        assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Need(2)));
        for _ in 0..64 {
            buf.extend_from_slice(&frame(CONTINUACION, false, &[1; 1000]));
            assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Need(2)));
            let m = decoder.message.as_ref().unwrap();
            assert!(m.data.capacity() <= LIMITE, "{}", m.data.capacity());
        }
        buf.extend_from_slice(&frame(CONTINUACION, true, &[1; 536]));
        let Ok(Decoded::Frame(FrameCliente::Binario(b))) = decoder.decode(&mut buf) else {
            panic!("65 536 bytes en 66 fragmentos: un mensaje");
        };
        assert_eq!(b.len(), LIMITE);
    }
}
