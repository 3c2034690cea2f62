"""What a run leaves behind: measurements with limits, the JSON run record, the summary table."""
