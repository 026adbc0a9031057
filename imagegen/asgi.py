from django.core.asgi import get_asgi_application

from imagegen.boot import start

start()
application = get_asgi_application()
