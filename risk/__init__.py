"""The bank's rules: scorecards, thresholds, hard rules and the assisted-authentication flow."""
