"""Local GitHub REST stand-in: deterministic synthetic org, HTTP server and KPI ground truth."""
