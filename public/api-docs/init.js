// Starts Swagger UI on /api/docs (server/src/api_docs.rs) for the portal's OpenAPI document. A file
// of its own, not an inline script: the portal's Content-Security-Policy keeps `script-src 'self'`.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The token is typed into "Authorize" for this page only; it is not kept in the browser.
    persistAuthorization: false,
    // No request to swagger.io's validator: the page talks to this portal only.
    validatorUrl: null,
  });
});
