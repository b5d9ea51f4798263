"""An emulator of the WhatsApp Business API On-Premises client, for the wabiz.migration lab and tests."""
