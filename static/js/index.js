// Inicio de sesión: entra y lleva a la página del rol. Quien ya tiene sesión
// va directo a la suya.

import { api } from "./api.js";
import { $, paginaDeRol, salir } from "./comun.js";

function irA(usuario) {
  const pagina = paginaDeRol(usuario.rol);
  if (pagina) {
    location.replace(pagina);
    return;
  }
  // servicio (el bot): no tiene pantalla.
  $("login").hidden = true;
  $("sin-pagina").hidden = false;
  $("sin-pagina-texto").textContent =
    `${usuario.nombre} es una cuenta de servicio (el bot de WhatsApp): no tiene pantalla. ` +
    "Publica pedidos, vouchers y eventos por la API.";
}

const formulario = $("login");
const error = $("login-error");

formulario.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.textContent = "";
  const datos = new FormData(formulario);
  const boton = formulario.querySelector("button[type=submit]");
  boton.disabled = true;
  boton.textContent = "Entrando…";
  try {
    const r = await api("/api/login", {
      metodo: "POST",
      cuerpo: { usuario: String(datos.get("usuario")).trim(), password: String(datos.get("password")) },
      redirigir: false,
    });
    irA(r.usuario);
  } catch (err) {
    error.textContent =
      err.estado === 401 ? "Usuario o contraseña incorrectos." : err.message || "No se pudo entrar.";
    formulario.elements.password.select();
  } finally {
    boton.disabled = false;
    boton.textContent = "Entrar";
  }
});

$("salir").addEventListener("click", salir);

api("/api/me", { redirigir: false })
  .then(irA)
  .catch(() => {
    formulario.elements.usuario.focus();
  });
