// Starts Swagger UI on the app's OpenAPI document. A file, not an inline
// script, so a Content-Security-Policy without 'unsafe-inline' allows it.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.openapiUrl, dom_id: "#swagger-ui" });
});
