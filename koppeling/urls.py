app_name = "koppeling"
urlpatterns: list = []
