"""Analytics over the data that proves or disproves the knowledge base."""
