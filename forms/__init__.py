"""Flask-WTF forms of the web application."""
