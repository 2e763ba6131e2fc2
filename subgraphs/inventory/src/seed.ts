import type { NewProduct } from './read-model.js';

const usd = (amount: number) => ({ amount, currency: 'USD' as const });

/**
 * The demo catalog, published as ProductRegistered on first start (deterministic event ids, and the
 * projector ignores an already-registered product, so a restart or a second replica adds nothing).
 */
export const SEED_CATALOG: readonly NewProduct[] = [
  { productId: 'prd_espresso-beans', name: 'Espresso Beans 1 kg', description: 'Dark roast, chocolate and hazelnut notes.', price: usd(2490), initialStock: 120 },
  { productId: 'prd_filter-beans', name: 'Filter Beans 500 g', description: 'Light roast from Ethiopia, citrus and jasmine.', price: usd(1590), initialStock: 150 },
  { productId: 'prd_pour-over-kit', name: 'Pour-Over Kit', description: 'Ceramic dripper, 100 filters and a glass carafe.', price: usd(3900), initialStock: 40 },
  { productId: 'prd_burr-grinder', name: 'Burr Grinder', description: 'Conical steel burrs, 40 grind settings.', price: usd(12900), initialStock: 25 },
  { productId: 'prd_gooseneck-kettle', name: 'Gooseneck Kettle', description: '1 l, temperature control to the degree.', price: usd(8900), initialStock: 30 },
  { productId: 'prd_milk-frother', name: 'Milk Frother', description: 'Hot and cold foam, dishwasher safe jug.', price: usd(5900), initialStock: 35 },
  { productId: 'prd_travel-mug', name: 'Travel Mug', description: 'Double-walled steel, keeps hot for 6 hours.', price: usd(2400), initialStock: 200 },
  { productId: 'prd_ceramic-cup-set', name: 'Ceramic Cup Set', description: 'Four handmade 180 ml cups.', price: usd(3600), initialStock: 60 },
  { productId: 'prd_green-tea', name: 'Sencha Green Tea 100 g', description: 'First flush, grassy and sweet.', price: usd(1290), initialStock: 90 },
  { productId: 'prd_black-tea', name: 'Assam Black Tea 250 g', description: 'Malty breakfast tea, strong with milk.', price: usd(1190), initialStock: 110 },
  { productId: 'prd_tea-infuser', name: 'Tea Infuser', description: 'Fine steel mesh, fits any mug.', price: usd(890), initialStock: 300 },
  { productId: 'prd_cold-brew-jar', name: 'Cold Brew Jar', description: '1.5 l glass jar with a steel filter.', price: usd(3200), initialStock: 45 },
  { productId: 'prd_digital-scale', name: 'Digital Scale', description: '0.1 g precision with a built-in timer.', price: usd(2900), initialStock: 70 },
  { productId: 'prd_espresso-machine', name: 'Espresso Machine', description: 'Dual boiler, PID, E61 group head.', price: usd(149900), initialStock: 8 },
  { productId: 'prd_tamper', name: 'Espresso Tamper 58 mm', description: 'Stainless base, walnut handle.', price: usd(3400), initialStock: 55 },
  { productId: 'prd_knock-box', name: 'Knock Box', description: 'Rubber bar, removable steel bin.', price: usd(2200), initialStock: 40 },
  { productId: 'prd_descaler', name: 'Descaler 500 ml', description: 'Citric acid based, two treatments.', price: usd(990), initialStock: 140 },
  { productId: 'prd_paper-filters', name: 'Paper Filters (200)', description: 'Unbleached, size 02.', price: usd(690), initialStock: 400 },
  { productId: 'prd_moka-pot', name: 'Moka Pot 6 Cup', description: 'Aluminium stovetop classic.', price: usd(3900), initialStock: 50 },
  { productId: 'prd_french-press', name: 'French Press 1 l', description: 'Borosilicate glass, four-layer filter.', price: usd(3100), initialStock: 65 },
  { productId: 'prd_chai-spice', name: 'Chai Spice Blend 150 g', description: 'Cardamom, cinnamon, ginger and clove.', price: usd(1390), initialStock: 80 },
  { productId: 'prd_barista-apron', name: 'Barista Apron', description: 'Waxed canvas with leather straps.', price: usd(4500), initialStock: 30 },
  { productId: 'prd_gift-card', name: 'Gift Card', description: 'A 50 dollar voucher, delivered by email.', price: usd(5000), initialStock: 1000 },
  { productId: 'prd_limited-geisha', name: 'Geisha Beans 100 g (limited)', description: 'Panama micro-lot, only a few bags.', price: usd(6900), initialStock: 5 },
];
