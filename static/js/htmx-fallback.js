/* htmx's local fallback (contract section 1). This file runs right after the CDN's <script> tag:
   both are parser-blocking, so they run in order, before the page finishes parsing. When the CDN
   could not be reached (offline, blocked by a firewall, or its file failed the integrity check),
   window.htmx is missing: write the same version's <script> from this site in its place, so htmx
   starts exactly as if it had come from the CDN (a script added later, after DOMContentLoaded,
   would never initialise htmx). No inline script: the CSP stays script-src 'self' + the CDN. */
(function () {
  "use strict";
  if (window.htmx) {
    return;
  }
  var me = document.currentScript;
  var src = me && me.getAttribute("data-local-src");
  var integrity = me && me.getAttribute("data-integrity");
  if (src) {
    document.write(
      '<script src="' + src + '"' + (integrity ? ' integrity="' + integrity + '"' : "") + "><\/script>"
    );
  }
})();
