"""Result folders: a versioned manifest, records, summary, server log and scraped metrics."""
