"""Speech-to-text engines: ``moonshine`` and ``whisper``. Import the module you use."""
