"""gateway-intencoes: text and voice intents in, classified intents out to Kafka."""
