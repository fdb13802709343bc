"""Back-office pages (namespace `backoffice`). One module per area; `backoffice.urls` maps them."""
