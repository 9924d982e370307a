"""Talk mode, the hands-free call: a session (``session``) feeds the user's audio to an engine chosen from the
``registry``; every engine reports typed ``events``, which the ``recorder`` stores and the ``view`` shows.
``runtime/`` holds what all engines share (the loop, playback, the user's tape); ``cascaded/`` and
``speech_to_speech/`` hold the engines."""
