/* global window, SwaggerUIBundle */
// Renders /v1/openapi.json with Swagger UI (served from this server; see contract-routes.ts).
// A file of its own, not an inline script, so that the page runs under `script-src 'self'`.
'use strict';

window.ui = SwaggerUIBundle({
  url: '/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // No calls out: no validator badge (it would ask validator.swagger.io about the document).
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
