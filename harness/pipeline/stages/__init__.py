"""Pipeline stages. Each module has one public function taking the frozen config
(and the previous stages' results) and returning its own result. Stages never
time or measure themselves: harness.pipeline.chain wraps them."""
