from screening import create_app

app = create_app()
