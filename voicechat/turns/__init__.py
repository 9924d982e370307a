"""One turn outside a call: typed (``text``), push-to-talk (``push_to_talk``), speaking and recognising
(``speech``), and the preferences page's voice preview (``preview``)."""
