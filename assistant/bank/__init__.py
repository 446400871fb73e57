"""The answer bank: entries, their rules, storage, import and export."""
