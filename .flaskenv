# Read by Flask's CLI (`flask run`, `flask db upgrade`, `flask doctor`, ...): no secrets here, it is
# committed. Deployment settings go in the environment or in .env (see .env.example).
FLASK_APP=app
FLASK_RUN_HOST=127.0.0.1
FLASK_RUN_PORT=5000
