"""Flash sales: the sale model, the Redis admission gate, the order pipeline, sale modes."""
