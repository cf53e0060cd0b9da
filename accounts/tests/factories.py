import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.np")
    full_name = factory.Faker("name")
    role = User.Role.TENANT
    email_verified = True
    password = factory.PostGenerationMethodCall("set_password", "a-Strong-pass-2026")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()
