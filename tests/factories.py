"""factory-boy factories for the unit and API tests.

Shoppers are made through ``users.services.register_user`` (the real registration path,
so every one has its customer profile); staff accounts have none, as with
``createsuperuser``. Orders are placed through ``orders.services.place_order`` so that
stock, prices and the outbox event are exactly what the service writes.
"""

import uuid
from decimal import Decimal

import factory

from catalog.models import Product
from customers.models import PointsEntry
from notifications.models import Kind, Notification
from orders import services as order_services
from users import services as user_services
from users.models import User

PASSWORD = "plum-Kettle-4729"


class UserFactory(factory.django.DjangoModelFactory):
    """A shopper: a user with a customer profile. ``user.customer`` is the profile and
    ``user.raw_password`` the password it logs in with."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"shopper{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, *, username, email, password, **extra):
        user = user_services.register_user(username=username, email=email, password=password)
        if extra:
            for field, value in extra.items():
                setattr(user, field, value)
            user.save(update_fields=list(extra))
        user.raw_password = password
        return user


class StaffUserFactory(factory.django.DjangoModelFactory):
    """A staff account without a customer profile (what ``createsuperuser`` makes)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(PASSWORD)
    is_staff = True


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Product {o.sku}")
    price = Decimal("12.90")
    currency = "EUR"
    stock = 10
    # Received into stock: what it starts with, as catalog.services.create_product does.
    received = factory.SelfAttribute("stock")
    is_active = True


class PointsEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PointsEntry

    customer = factory.LazyFunction(lambda: UserFactory().customer)
    amount = 10
    reason = PointsEntry.Reason.ADJUSTMENT
    note = "goodwill"


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    customer = factory.LazyFunction(lambda: UserFactory().customer)
    kind = Kind.ORDER_CONFIRMED
    title = factory.Sequence(lambda n: f"Notification {n}")
    body = "Something happened to your order."
    source_event = factory.LazyFunction(uuid.uuid4)


def place_order(customer, items: dict[Product | str, int], payment_token: str = "tok_ok"):
    """Place an order through the real service: ``items`` maps products (or SKUs) to
    quantities."""
    lines = [
        order_services.LineRequest(sku=getattr(product, "sku", product), quantity=qty) for product, qty in items.items()
    ]
    return order_services.place_order(customer=customer, lines=lines, payment_token=payment_token)
