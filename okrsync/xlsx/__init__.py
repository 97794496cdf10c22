"""Reading and surgically writing .xlsx packages without losing any part of them."""
