//! Client WebSocket frames written by hand, byte by byte, as RFC 6455 says a
//! client sends them (masked), and the opening handshake before them: what
//! the raw-socket tests feed the server's frame reader, including what no
//! library would send. Shared by the test binaries through `#[path]`.

// Each test binary that includes this file uses a part of it.
#![allow(dead_code)]

pub const CONTINUACION: u8 = 0x0;
pub const TEXTO: u8 = 0x1;
pub const BINARIO: u8 = 0x2;
pub const CIERRE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// The masking key of every frame here.
pub const MASCARA: [u8; 4] = [0x1f, 0x2e, 0x3d, 0x4c];

/// A client's opening handshake for `/ws`, authenticated by `token`.
pub fn upgrade(token: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    )
}

/// Where the server's answer to the handshake ends in what was read so far:
/// the length of its head, blank line included, once it has all come.
pub fn fin_de_cabecera(leido: &[u8]) -> Option<usize> {
    leido
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The header of a masked client frame declaring `largo` bytes, with the
/// shortest length encoding.
pub fn cabecera(op: u8, fin: bool, largo: u64) -> Vec<u8> {
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
pub fn frame(op: u8, fin: bool, datos: &[u8]) -> Vec<u8> {
    let mut f = cabecera(op, fin, datos.len() as u64);
    f.extend(datos.iter().enumerate().map(|(i, b)| b ^ MASCARA[i % 4]));
    f
}

/// A client close frame with `codigo` and the reason's bytes as they are.
pub fn cierre(codigo: u16, motivo: &[u8]) -> Vec<u8> {
    let mut datos = codigo.to_be_bytes().to_vec();
    datos.extend_from_slice(motivo);
    frame(CIERRE, true, &datos)
}
