"""Evidence: what a person keeps to show the platform or the police (never intimate images)."""
