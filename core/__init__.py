"""Cross-cutting pieces every app uses: the error codes and envelope, request helpers."""
