"""What every Talk engine runs on: the event loop thread, the playback meter, the user-audio tape."""
