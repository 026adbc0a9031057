from django.core.wsgi import get_wsgi_application

from imagegen.boot import start

start()
application = get_wsgi_application()
