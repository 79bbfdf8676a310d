app_name = "beheer"
urlpatterns: list = []
