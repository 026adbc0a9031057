from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts.models import User


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name", "tier")


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
