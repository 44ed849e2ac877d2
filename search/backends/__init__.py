"""Store backends: `sqlite` (embedded default) and `elasticsearch` (multi-service)."""
